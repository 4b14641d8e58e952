// Drives the npm `mailpit-api` client (installed by .ci/run into tests/web/clients) against
// mailcatcher serve: one inbox's base URL, another's, and the root. Prints what each call
// answered as one JSON object; tests/web/test_mailpit_client.py asserts on it.
//
// Usage: NODE_PATH=tests/web/clients/node_modules node mailpit_client.cjs ROOT NAME1 NAME2
"use strict";

const { MailpitClient } = require("mailpit-api");

async function failure(promise) {
  try {
    await promise;
    return null;
  } catch (error) {
    return String(error.message);
  }
}

async function main() {
  const [root, first, second] = process.argv.slice(2);
  const inbox = (name) => `${root}inbox/${encodeURIComponent(name)}/`;
  const one = new MailpitClient(inbox(first));
  const two = new MailpitClient(inbox(second));
  const all = new MailpitClient(root);
  const out = {};

  const listed = await one.listMessages();
  out.listed = listed.messages.map((m) => m.Subject);
  out.listedTotal = listed.total;
  const id = listed.messages[0].ID;
  const otherId = (await two.listMessages()).messages[0].ID;
  out.summary = (await one.getMessageSummary(id)).Subject;
  out.latest = (await one.getMessageSummary()).Subject;
  out.otherInboxsMessage = await failure(one.getMessageSummary(otherId));
  out.searched = (await one.searchMessages({ query: "subject:first" })).messages.map((m) => m.Subject);
  out.searchedOther = (await one.searchMessages({ query: "subject:second" })).messages.length;

  out.setTags = await one.setTags({ IDs: [id, otherId], Tags: ["welcome", "two words"] });
  out.tags = await one.getTags();
  out.tagsOther = await two.getTags();
  out.tagged = (await one.getMessageSummary(id)).Tags;
  out.byTag = (await one.searchMessages({ query: 'tag:"two words"' })).messages.map((m) => m.Subject);
  out.byTagOther = (await two.searchMessages({ query: 'tag:"two words"' })).messages.length;
  out.renamed = await one.renameTag("welcome", "hello");
  out.deletedTag = await one.deleteTag("two words");
  out.tagsAfter = await one.getTags();
  out.renameMissing = await failure(one.renameTag("nothing", "x"));
  out.cleared = await one.setTags({ IDs: [id] });
  out.tagsCleared = await one.getTags();
  out.rootTags = await all.setTags({ IDs: [otherId], Tags: ["from root"] });
  out.tagsOfSecond = await two.getTags();

  out.info = (await one.getInfo()).Messages;
  out.deleted = await one.deleteMessages();
  out.leftInFirst = (await one.listMessages()).total;
  out.leftInSecond = (await two.listMessages()).messages.map((m) => m.Subject);
  out.leftInAll = (await all.listMessages()).total;
  process.stdout.write(JSON.stringify(out));
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});

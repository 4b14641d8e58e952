// The mailcatcher inbox page. Plain JavaScript, no build step.
//
// Every piece of message data reaches the page through textContent, attribute setters
// or URL parameters, never as markup to parse: a subject, a name or a file name that
// holds markup shows as the text it is. The HTML body is shown only inside a
// sandboxed iframe (no scripts, no same-origin) that the server fills with cleaned
// HTML under a no-script Content-Security-Policy.
//
// Every request is relative to the page's own address: served at / it reads every inbox,
// served at /inbox/NAME/ the same requests read inbox NAME alone (the server's rule).
// Inbox names and tags are user input (an SMTP login, a header): they reach the page as
// text, and URLs as percent-encoded path segments.
"use strict";

(() => {
  const PAGE = 50;
  const $ = (id) => document.getElementById(id);
  // /inbox/NAME/ (NAME percent-encoded, one segment): this page shows inbox NAME alone.
  const AT_INBOX = /^(.*\/)inbox\/([^/]+)\/$/.exec(location.pathname);
  const ROOT = AT_INBOX ? AT_INBOX[1] : location.pathname.replace(/[^/]*$/, "");
  const INBOX = AT_INBOX ? decodeURIComponent(AT_INBOX[2]) : null;

  const state = {
    query: "",
    shown: PAGE,
    messages: [],
    total: 0,
    matched: 0,
    current: null, // the open message's JSON
    currentId: null,
    tab: "html",
    loaded: {}, // per open message: which lazy tabs are filled
    refreshing: null,
    again: false,
  };

  // --- small helpers ------------------------------------------------------------------

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function icon(name) {
    const paths = {
      clip: "M16.5 6.5l-7.8 7.8a2 2 0 0 0 2.8 2.8l8-8a4 4 0 0 0-5.6-5.6l-8.2 8.2a6 6 0 0 0 8.5 8.5l7-7",
    };
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("class", "icon");
    svg.setAttribute("aria-hidden", "true");
    const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
    path.setAttribute("d", paths[name]);
    svg.append(path);
    return svg;
  }

  function formatSize(bytes) {
    if (bytes < 1024) return `${bytes} B`;
    if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(bytes < 10240 ? 1 : 0)} kB`;
    return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  }

  const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
  const dayFormat = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short" });
  const yearFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });
  const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "medium" });

  function formatWhen(iso) {
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return "";
    const now = new Date();
    if (date.toDateString() === now.toDateString()) return timeFormat.format(date);
    if (date.getFullYear() === now.getFullYear()) return dayFormat.format(date);
    return yearFormat.format(date);
  }

  function formatAddress(address) {
    if (!address) return "";
    const name = (address.Name || "").trim();
    const addr = (address.Address || "").trim();
    if (name && addr) return `${name} <${addr}>`;
    return name || addr;
  }

  function shortAddress(address) {
    if (!address) return "";
    return (address.Name || "").trim() || (address.Address || "").trim();
  }

  async function api(path, options) {
    const response = await fetch(path, { credentials: "same-origin", ...options });
    if (!response.ok) {
      const detail = (await response.text()).trim();
      const error = new Error(detail || `${response.status} ${response.statusText}`);
      error.status = response.status;
      throw error;
    }
    return response;
  }

  function messageUrl(id, suffix) {
    return `api/v1/message/${encodeURIComponent(id)}${suffix || ""}`;
  }

  function inboxUrl(name) {
    // A name of dots alone is encoded too: "/inbox/../" would be the root to the browser.
    let segment = encodeURIComponent(name);
    if (!segment.replace(/\./g, "")) segment = segment.replace(/\./g, "%2E");
    return `${ROOT}inbox/${segment}/`;
  }

  function showError(error) {
    const count = $("count");
    count.textContent = `Error: ${error.message}`;
    count.classList.add("error");
  }

  // --- the list -----------------------------------------------------------------------

  function listUrl() {
    const limit = String(Math.max(state.shown, PAGE));
    if (state.query) {
      const params = new URLSearchParams({ query: state.query, start: "0", limit });
      return `api/v1/search?${params}`;
    }
    return `api/v1/messages?${new URLSearchParams({ start: "0", limit })}`;
  }

  async function refresh() {
    // One request at a time; a change during one schedules exactly one more.
    if (state.refreshing) {
      state.again = true;
      return state.refreshing;
    }
    state.refreshing = (async () => {
      try {
        do {
          state.again = false;
          const data = await (await api(listUrl())).json();
          state.messages = data.messages || [];
          state.total = data.total;
          state.matched = data.messages_count;
          renderList();
        } while (state.again);
        $("count").classList.remove("error");
      } catch (error) {
        showError(error);
      } finally {
        state.refreshing = null;
      }
    })();
    return state.refreshing;
  }

  function row(message) {
    const selected = message.ID === state.currentId;
    const recipients = (message.To || []).map(shortAddress).filter(Boolean).join(", ");
    const link = el(
      "a",
      {
        class: `row${message.Read ? "" : " unread"}`,
        href: `#/m/${encodeURIComponent(message.ID)}`,
        "data-id": message.ID,
        "aria-current": selected ? "true" : null,
      },
      el("span", { class: "from", text: shortAddress(message.From) || "(no sender)" }),
      el("time", {
        class: "when",
        datetime: message.Created,
        title: fullFormat.format(new Date(message.Created)),
        text: formatWhen(message.Created),
      }),
      el("span", { class: "subject-line", text: message.Subject || "(no subject)" }),
      el(
        "span",
        { class: "extras" },
        message.Attachments > 0
          ? el("span", { class: "clip", title: `${message.Attachments} attachment(s)` }, icon("clip"),
              el("span", { class: "visually-hidden", text: `${message.Attachments} attachment(s)` }))
          : null,
        el("span", { class: "size", text: formatSize(message.Size) }),
      ),
      el("span", { class: "to", text: recipients ? `to ${recipients}` : "" }),
      el("span", { class: "snippet", text: message.Snippet || "" }),
      el("span", { class: "tags" }, ...(message.Tags || []).map((tag) =>
        // Inside the row's link: a click searches for the tag instead of opening the row.
        el("span", { class: "tag", title: `Show messages tagged “${tag}”`, text: tag, onclick: (event) => {
          event.preventDefault();
          event.stopPropagation();
          searchTag(tag);
        } }))),
    );
    return el("li", { class: selected ? "selected" : null }, link);
  }

  function renderList() {
    const list = $("list");
    const focusedId = document.activeElement && document.activeElement.dataset
      ? document.activeElement.dataset.id : null;
    list.replaceChildren(...state.messages.map(row));
    if (focusedId) {
      const again = list.querySelector(`a[data-id="${CSS.escape(focusedId)}"]`);
      if (again) again.focus({ preventScroll: true });
    }
    const shown = state.messages.length;
    const total = state.query ? state.matched : state.total;
    const noun = state.query ? "matching" : "messages";
    $("count").textContent = total === 0
      ? (state.query ? "No messages match" : "No messages")
      : `${shown < total ? `${shown} of ` : ""}${total.toLocaleString()} ${noun}`;
    $("more").hidden = shown >= total;
    const empty = $("empty");
    empty.hidden = shown > 0;
    empty.textContent = state.query
      ? "Nothing matches this search."
      : "No mail yet. Send some to this catcher's SMTP port and it shows up here at once.";
    const deleteAll = $("delete-all");
    deleteAll.textContent = state.query ? `Delete ${total.toLocaleString()} matching` : "Delete all";
    deleteAll.disabled = total === 0;
    const name = INBOX === null ? "mailcatcher" : `${INBOX} · mailcatcher`;
    document.title = state.total ? `(${state.total}) ${name}` : name;
  }

  // --- inboxes: the switcher ------------------------------------------------------------

  async function loadInboxes() {
    let inboxes;
    try {
      inboxes = await (await api("api/v1/inboxes")).json();
    } catch (error) {
      showError(error);
      return;
    }
    if (INBOX !== null && !inboxes.some((inbox) => inbox.Name === INBOX)) {
      inboxes.push({ Name: INBOX, Messages: 0 }); // nobody sent to it yet: still this page's
    }
    const all = inboxes.reduce((sum, inbox) => sum + inbox.Messages, 0);
    const options = [el("option", { value: "", text: `All inboxes (${all.toLocaleString()})` })];
    for (const inbox of inboxes) {
      const option = el("option", { text: `${inbox.Name} (${inbox.Messages.toLocaleString()})` });
      option.value = inbox.Name; // a property: any text, never markup
      options.push(option);
    }
    const select = $("inbox-switch");
    select.replaceChildren(...options);
    select.value = INBOX === null ? "" : INBOX;
  }

  function switchInbox() {
    const name = $("inbox-switch").value;
    location.href = name ? inboxUrl(name) : ROOT;
  }

  // --- one message --------------------------------------------------------------------

  const TABS = ["html", "text", "source", "headers", "attachments", "links", "checks"];
  const REMOTE = /(?:\bsrc|\bbackground|\bposter)\s*=\s*["']?\s*(?:https?:)?\/\/|url\(\s*["']?\s*(?:https?:)?\/\//i;

  function metaRow(label, value) {
    if (!value) return [];
    return [el("dt", { text: label }), el("dd", { text: value })];
  }

  async function openMessage(id) {
    state.currentId = id;
    state.loaded = {};
    document.body.classList.add("viewing");
    $("placeholder").hidden = true;
    $("message-pane").hidden = false;
    for (const item of $("list").querySelectorAll("a.row")) {
      const on = item.dataset.id === id;
      item.parentElement.classList.toggle("selected", on);
      if (on) {
        item.setAttribute("aria-current", "true");
        item.classList.remove("unread");
        item.scrollIntoView({ block: "nearest" });
      } else {
        item.removeAttribute("aria-current");
      }
    }
    let message;
    try {
      message = await (await api(messageUrl(id))).json();
    } catch (error) {
      if (state.currentId !== id) return;
      state.current = null;
      $("subject").textContent = error.status === 404 ? "This message was deleted." : `Error: ${error.message}`;
      $("meta").replaceChildren();
      $("tabs").hidden = true;
      for (const tab of TABS) $(`panel-${tab}`).hidden = true;
      return;
    }
    if (state.currentId !== id) return;
    state.current = message;
    $("tabs").hidden = false;
    $("subject").textContent = message.Subject || "(no subject)";
    const list = (items) => (items || []).map(formatAddress).join(", ");
    $("meta").replaceChildren(
      ...metaRow("From", formatAddress(message.From)),
      ...metaRow("To", list(message.To)),
      ...metaRow("Cc", list(message.Cc)),
      ...metaRow("Bcc", list(message.Bcc)),
      ...metaRow("Reply-To", list(message.ReplyTo)),
      ...metaRow("Date", fullFormat.format(new Date(message.Date))),
      ...metaRow("Size", formatSize(message.Size)),
      ...metaRow("Logged in as", message.Username),
    );
    renderTags(message);
    $("download").href = `${messageUrl(id, "/raw")}?dl=1`;
    const files = (message.Attachments || []).length + (message.Inline || []).length;
    $("tab-attachments").textContent = files ? `Attachments (${files})` : "Attachments";
    $("tab-html").disabled = !message.HTML;
    $("tab-links").textContent = "Links";
    $("tab-checks").textContent = "Checks";
    loadChecks(message); // eagerly: the tab shows the counts
    renderText($("text"), message.Text || "(this message has no text)", []);
    if (message.Text) linkText(message);
    $("remote-bar").hidden = true;
    const wanted = !message.HTML && state.tab === "html" ? "text" : state.tab;
    selectTab(wanted, false);
    if (message.HTML) loadPreview(false);
  }

  // --- tags -------------------------------------------------------------------------

  function searchTag(tag) {
    // Tags hold letters, digits, "-", "_", ".", "@" and spaces only: no quote to escape.
    $("search").value = `tag:"${tag}"`;
    search(true);
  }

  function renderTags(message) {
    $("tags").replaceChildren(...(message.Tags || []).map((tag) => el(
      "li",
      { class: "tag", "data-tag": tag },
      el("button", { type: "button", class: "tag-search", title: `Show messages tagged “${tag}”`, text: tag, onclick: () => searchTag(tag) }),
      el("button", { type: "button", class: "untag", "aria-label": `Remove tag ${tag}`, title: "Remove this tag", text: "×", onclick: () => setTags(message, (message.Tags || []).filter((have) => have !== tag)) }),
    )));
  }

  async function setTags(message, tags) {
    // Mailpit's PUT /api/v1/tags replaces the message's tags with these.
    try {
      await api("api/v1/tags", {
        method: "PUT",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ IDs: [message.ID], Tags: tags }),
      });
      const fresh = await (await api(messageUrl(message.ID))).json();
      if (state.current && state.current.ID === message.ID) {
        state.current.Tags = fresh.Tags;
        renderTags(state.current);
      }
    } catch (error) {
      showError(error);
      return;
    }
    refresh();
  }

  function link(url) {
    // A new tab that cannot reach back to this page (no opener) nor learns where the
    // click came from (no referrer).
    return el("a", { href: url, target: "_blank", rel: "noopener noreferrer", text: url });
  }

  function renderText(node, text, urls) {
    // Which strings are links is the server's decision (/links, mailcatcher.message.links:
    // http and https only, sentence punctuation trimmed); the page only finds them in the
    // text. Text nodes and anchors are built one by one: the mail is never parsed as markup.
    const wanted = (urls || []).filter((url) => /^https?:\/\//i.test(url))
      .sort((a, b) => b.length - a.length); // at one place, the longest link wins
    const pieces = [];
    let at = 0;
    while (wanted.length) {
      let found = -1;
      let url = null;
      for (const candidate of wanted) {
        const index = text.indexOf(candidate, at);
        if (index >= 0 && (found < 0 || index < found)) [found, url] = [index, candidate];
      }
      if (url === null) break;
      pieces.push(document.createTextNode(text.slice(at, found)), link(url));
      at = found + url.length;
    }
    pieces.push(document.createTextNode(text.slice(at)));
    node.replaceChildren(...pieces);
  }

  async function linkText(message) {
    // The text shows at once; its links follow when the server has listed them.
    try {
      const urls = await (await api(messageUrl(message.ID, "/links"))).json();
      if (state.current === message) renderText($("text"), message.Text, urls);
    } catch (error) {
      showError(error);
    }
  }

  function loadPreview(remote) {
    const message = state.current;
    if (!message) return;
    $("remote-bar").hidden = remote || !REMOTE.test(message.HTML);
    const url = `view/${encodeURIComponent(message.ID)}.html${remote ? "?remote=1" : ""}`;
    $("preview").src = url;
  }

  function closeMessage() {
    state.currentId = null;
    state.current = null;
    document.body.classList.remove("viewing");
    $("message-pane").hidden = true;
    $("placeholder").hidden = false;
    $("preview").src = "about:blank";
    for (const item of $("list").querySelectorAll("li.selected")) item.classList.remove("selected");
  }

  function selectTab(tab, focus) {
    if ($(`tab-${tab}`).disabled) tab = "text";
    state.tab = tab;
    for (const name of TABS) {
      const button = $(`tab-${name}`);
      const on = name === tab;
      button.setAttribute("aria-selected", on ? "true" : "false");
      button.tabIndex = on ? 0 : -1;
      $(`panel-${name}`).hidden = !on;
    }
    if (focus) $(`tab-${tab}`).focus();
    fillTab(tab);
  }

  async function fillTab(tab) {
    const message = state.current;
    if (!message || state.loaded[tab]) return;
    state.loaded[tab] = true;
    const id = message.ID;
    try {
      if (tab === "source") {
        const raw = await (await api(messageUrl(id, "/raw"))).text();
        if (state.currentId === id) $("source").textContent = raw;
      } else if (tab === "headers") {
        const [headers, envelope] = await Promise.all([
          api(messageUrl(id, "/headers")).then((response) => response.json()),
          api(messageUrl(id, "/envelope")).then((response) => response.json()),
        ]);
        if (state.currentId !== id) return;
        renderEnvelope(envelope);
        const rows = [];
        for (const [name, values] of Object.entries(headers)) {
          for (const value of values) {
            rows.push(el("tr", {}, el("th", { scope: "row", text: name }), el("td", { text: value })));
          }
        }
        $("headers").replaceChildren(el("tbody", {}, ...rows));
      } else if (tab === "attachments") {
        renderFiles(message);
      } else if (tab === "checks") {
        state.loaded[tab] = false; // loadChecks marks it once the report is shown
        await loadChecks(message);
      } else if (tab === "links") {
        const links = await (await api(messageUrl(id, "/links"))).json();
        if (state.currentId !== id) return;
        $("tab-links").textContent = links.length ? `Links (${links.length})` : "Links";
        $("links").replaceChildren(
          ...links.map((url) => el("li", {}, /^https?:\/\//i.test(url) ? link(url) : el("span", { text: url }))),
        );
        // An empty list is a sentence, not a numbered item "1. This message has no links."
        $("links").hidden = !links.length;
        $("links-none").hidden = links.length > 0;
      }
    } catch (error) {
      state.loaded[tab] = false;
      showError(error);
    }
  }

  // --- the Checks tab: /api/v1/message/{ID}/check, findings grouped by severity ----------

  const SEVERITIES = [
    ["error", "Errors", "error"],
    ["warning", "Warnings", "warning"],
    ["info", "Info", "info"],
  ];

  function counted(count, noun) {
    return noun === "info" ? `${count} info` : `${count} ${noun}${count === 1 ? "" : "s"}`;
  }

  function checksLabel(report) {
    const counts = { error: report.Errors, warning: report.Warnings, info: report.Infos };
    const parts = SEVERITIES.filter(([key]) => counts[key]).map(([key, , noun]) => counted(counts[key], noun));
    return parts.length ? `Checks (${parts.join(", ")})` : "Checks (0)";
  }

  async function loadChecks(message) {
    if (state.loaded.checks || state.loadingChecks === message.ID) return;
    state.loadingChecks = message.ID;
    try {
      const report = await (await api(messageUrl(message.ID, "/check"))).json();
      if (state.current !== message) return;
      $("tab-checks").textContent = checksLabel(report);
      renderChecks(report);
      state.loaded.checks = true;
    } catch (error) {
      showError(error);
    } finally {
      if (state.loadingChecks === message.ID) state.loadingChecks = null;
    }
  }

  function where(finding) {
    // Where the finding is, and the tab that shows it: a header, a link, a line of a
    // part's source. Plain text and a button: nothing from the mail becomes markup.
    const parts = [];
    if (finding.Header) parts.push(`header ${finding.Header}`);
    if (finding.Part) parts.push(`part ${finding.Part}`);
    if (finding.Line) parts.push(`line ${finding.Line}`);
    if (finding.Link) parts.push(finding.Link);
    const target = finding.Header ? ["headers", "Headers"]
      : /^https?:\/\//i.test(finding.Link) && !finding.Feature ? ["links", "Links"]
      : finding.Part || finding.Line ? ["source", "Source"] : null;
    const node = el("span", { class: "where", text: parts.join(", ") });
    if (target) {
      node.append(el("button", {
        type: "button",
        class: "goto",
        "data-tab": target[0],
        text: `Show in ${target[1]}`,
        onclick: () => selectTab(target[0], true),
      }));
    }
    return node;
  }

  function renderChecks(report) {
    const findings = report.Findings || [];
    $("checks-summary").textContent = findings.length
      ? `${checksLabel(report).replace(/^Checks \((.*)\)$/, "$1")}.${report.Capped ? " (A limit was reached: the message was checked in part.)" : ""}`
      : "No problems found.";
    const groups = [];
    for (const [key, title] of SEVERITIES) {
      const mine = findings.filter((finding) => finding.Severity === key);
      if (!mine.length) continue;
      groups.push(
        el("h2", { class: key, text: `${title} (${mine.length})` }),
        el("ul", { class: `findings ${key}`, "aria-label": title }, ...mine.map((finding) =>
          el("li", { "data-code": finding.Code },
            el("span", { class: "code", text: finding.Code }),
            el("span", { class: "message", text: finding.Message }),
            where(finding),
            el("details", {},
              el("summary", { text: finding.Title }),
              el("p", { text: finding.Description }),
              el("p", { text: `Source: ${finding.Source}` })),
          ))),
      );
    }
    $("checks").replaceChildren(...groups);
    $("checks-source").textContent = report.DataSource ? `Client support: ${report.DataSource}.` : "";
  }

  function setWidth(width) {
    // Phone and tablet widths for the same sandboxed preview frame (a class, not an
    // inline style: the page's policy allows no inline style).
    for (const button of document.querySelectorAll(".width-bar .width")) {
      button.setAttribute("aria-pressed", button.dataset.width === width ? "true" : "false");
    }
    $("preview").classList.toggle("width-phone", width === "phone");
    $("preview").classList.toggle("width-tablet", width === "tablet");
  }

  function renderEnvelope(envelope) {
    // What the SMTP session said, which the headers may not: a Bcc is only a RCPT TO.
    const row = (name, value) =>
      el("tr", {}, el("th", { scope: "row", text: name }), el("td", { text: value }));
    const rows = [row("MAIL FROM", envelope.MailFrom ? `<${envelope.MailFrom}>` : "<> (null sender)")];
    for (const recipient of envelope.RcptTo || []) rows.push(row("RCPT TO", `<${recipient}>`));
    rows.push(row("AUTH login", envelope.Username || "(none: the client did not log in)"));
    $("envelope").replaceChildren(el("tbody", {}, ...rows));
  }

  function renderFiles(message) {
    const files = [
      ...(message.Attachments || []).map((file) => ({ file, inline: false })),
      ...(message.Inline || []).map((file) => ({ file, inline: true })),
    ];
    if (!files.length) {
      $("files").replaceChildren(el("li", { class: "none", text: "This message has no attachments." }));
      return;
    }
    $("files").replaceChildren(...files.map(({ file, inline }) => {
      const name = file.FileName || file.ContentID || `part ${file.PartID}`;
      return el(
        "li",
        {},
        el("a", {
          class: "file-name",
          href: messageUrl(message.ID, `/part/${encodeURIComponent(file.PartID)}`),
          download: file.FileName || "",
          text: name,
        }),
        el("span", { class: "file-meta", text: `${file.ContentType} · ${formatSize(file.Size)}${inline ? " · inline" : ""}` }),
      );
    }));
  }

  async function deleteMessage(id) {
    const rows = [...$("list").querySelectorAll("a.row")];
    const index = rows.findIndex((item) => item.dataset.id === id);
    const next = rows[index + 1] || rows[index - 1];
    try {
      await api("api/v1/messages", {
        method: "DELETE",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ IDs: [id] }),
      });
    } catch (error) {
      showError(error);
      return;
    }
    if (state.currentId === id) {
      if (next && !document.body.classList.contains("narrow")) location.hash = `#/m/${encodeURIComponent(next.dataset.id)}`;
      else location.hash = "#";
    }
    await refresh();
    // The list is focused for the next key, unless the user moved on meanwhile (typing
    // in the search box after "/"): a late focus() would take their keys away.
    if (typing(document.activeElement)) return;
    const target = $("list").querySelector(next ? `a[data-id="${CSS.escape(next.dataset.id)}"]` : "a.row");
    if (target) target.focus();
  }

  async function deleteAll() {
    const matching = state.query ? state.matched : state.total;
    const where = INBOX === null ? "" : ` of inbox “${INBOX}”`;
    const what = state.query ? `the ${matching} messages${where} matching “${state.query}”` : `all ${matching} messages${where}`;
    if (!window.confirm(`Delete ${what}?`)) return;
    try {
      if (state.query) {
        await api(`api/v1/search?${new URLSearchParams({ query: state.query })}`, { method: "DELETE" });
      } else {
        await api("api/v1/messages", { method: "DELETE" });
      }
    } catch (error) {
      showError(error);
      return;
    }
    location.hash = "#";
    await refresh();
  }

  // --- navigation and keys ------------------------------------------------------------

  function route() {
    const match = /^#\/m\/(.+)$/.exec(location.hash);
    if (match) openMessage(decodeURIComponent(match[1]));
    else if (state.currentId) closeMessage();
  }

  function step(delta) {
    const rows = [...$("list").querySelectorAll("a.row")];
    if (!rows.length) return;
    const from = rows.findIndex((item) => item === document.activeElement || item.dataset.id === state.currentId);
    const index = from < 0 ? 0 : Math.min(rows.length - 1, Math.max(0, from + delta));
    rows[index].focus();
    location.hash = rows[index].getAttribute("href");
  }

  function typing(target) {
    return target instanceof HTMLElement && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target)) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    const tabFocused = event.target instanceof HTMLElement && event.target.getAttribute("role") === "tab";
    if (tabFocused && (event.key === "ArrowRight" || event.key === "ArrowLeft")) {
      const enabled = TABS.filter((name) => !$(`tab-${name}`).disabled);
      const at = enabled.indexOf(state.tab);
      const next = enabled[(at + (event.key === "ArrowRight" ? 1 : enabled.length - 1)) % enabled.length];
      selectTab(next, true);
      event.preventDefault();
      return;
    }
    switch (event.key) {
      case "/":
        $("search").focus();
        $("search").select();
        break;
      case "j":
      case "ArrowDown":
        step(1);
        break;
      case "k":
      case "ArrowUp":
        step(-1);
        break;
      case "Delete":
      case "#": {
        const focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.id : null;
        const id = state.currentId || focused;
        if (id) deleteMessage(id);
        else return;
        break;
      }
      case "Escape":
        if (state.currentId) {
          const id = state.currentId;
          location.hash = "#";
          const item = $("list").querySelector(`a[data-id="${CSS.escape(id)}"]`);
          if (item) item.focus();
        } else return;
        break;
      default:
        return;
    }
    event.preventDefault();
  });

  // --- live updates -------------------------------------------------------------------

  function setLive(on, text) {
    const live = $("live");
    live.classList.toggle("on", on);
    live.querySelector(".live-text").textContent = text;
    live.title = `Live updates: ${text}`;
  }

  function connect() {
    const source = new EventSource("api/events");
    source.addEventListener("hello", () => {
      setLive(true, "live");
      refresh();
      loadInboxes();
    });
    source.addEventListener("change", () => {
      refresh();
      loadInboxes();
    });
    source.addEventListener("error", () => setLive(false, "reconnecting"));
  }

  // --- wiring -------------------------------------------------------------------------

  let searchTimer = null;
  function search(now) {
    clearTimeout(searchTimer);
    const run = async () => {
      const value = $("search").value.trim();
      if (value === state.query) return;
      state.query = value;
      state.shown = PAGE;
      await refresh();
      // The open message stays open only while the search still finds it.
      const id = state.currentId;
      const listed = state.messages.some((message) => message.ID === id);
      // Only when every match is listed: one beyond "Load more" still matches.
      const complete = state.messages.length >= state.matched;
      if (id && state.query === value && complete && !listed) {
        location.hash = "#";
      }
    };
    if (now) run();
    else searchTimer = setTimeout(run, 200);
  }

  $("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    search(true);
  });
  $("search").addEventListener("input", () => search(false));
  $("more").addEventListener("click", () => {
    state.shown = state.messages.length + PAGE;
    refresh();
  });
  $("delete-all").addEventListener("click", deleteAll);
  $("inbox-switch").addEventListener("change", switchInbox);
  $("tag-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const message = state.current;
    const tag = $("tag-input").value.trim();
    if (!message || !tag) return;
    $("tag-input").value = "";
    setTags(message, [...(message.Tags || []), tag]);
  });
  $("delete-one").addEventListener("click", () => state.currentId && deleteMessage(state.currentId));
  $("back").addEventListener("click", () => {
    const id = state.currentId;
    location.hash = "#";
    const item = id && $("list").querySelector(`a[data-id="${CSS.escape(id)}"]`);
    if (item) item.focus();
  });
  $("show-remote").addEventListener("click", () => loadPreview(true));
  for (const button of document.querySelectorAll(".width-bar .width")) {
    button.addEventListener("click", () => setWidth(button.dataset.width));
  }
  for (const name of TABS) $(`tab-${name}`).addEventListener("click", () => selectTab(name, false));
  window.addEventListener("hashchange", route);
  const narrow = window.matchMedia("(max-width: 760px)");
  const onWidth = () => document.body.classList.toggle("narrow", narrow.matches);
  narrow.addEventListener("change", onWidth);
  onWidth();

  selectTab("html", false);
  loadInboxes();
  refresh().then(route);
  connect();
})();

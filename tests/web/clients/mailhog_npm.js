// Drives the npm `mailhog` client (blueimp/mailhog-node), as a MailHog test suite does.
//
// Usage: node mailhog_npm.js HOST PORT BASEPATH CALLS_JSON
// CALLS_JSON is a list of [method, ...arguments]. Prints one JSON document: for each call,
// what the client resolved with (a page of messages is reduced to the fields and getters
// a suite reads), {"statusCode": N} for a bare response, or {"rejected": "..."}.
'use strict'

const mailhog = require('mailhog')

function summary(message) {
  return {
    ID: message.ID,
    subject: message.subject,
    from: message.from,
    to: message.to,
    text: message.text,
    html: message.html,
    attachments: message.attachments.map(part => ({
      name: part.name,
      type: part.type,
      encoding: part.encoding,
      content: mailhog().decode(part.Body, part.encoding)
    })),
    deliveryDate: message.deliveryDate.toISOString(),
    recipients: message.To.map(path => `${path.Mailbox}@${path.Domain}`),
    sender: `${message.From.Mailbox}@${message.From.Domain}`
  }
}

function reduce(result) {
  if (result === undefined || result === null || result === 0) return result
  if (typeof result.statusCode === 'number') return { statusCode: result.statusCode }
  if (Array.isArray(result.items)) {
    return {
      total: result.total,
      count: result.count,
      start: result.start,
      items: result.items.map(summary)
    }
  }
  if (result.ID) return summary(result)
  return result // any other JSON the server sent
}

async function main() {
  const [host, port, basePath, callsJSON] = process.argv.slice(2)
  const api = mailhog({ host, port: Number(port), basePath })
  const results = []
  for (const [method, ...args] of JSON.parse(callsJSON)) {
    try {
      results.push(reduce(await api[method](...args)))
    } catch (error) {
      results.push({ rejected: String(error) })
    }
  }
  process.stdout.write(JSON.stringify(results))
}

main()

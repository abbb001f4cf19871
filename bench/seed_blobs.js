// Clone one existing blob's metadata under many names in a stopped Azurite's blob database, using
// Azurite's own LokiJS. Azurite's PUT scans the container's documents for each new blob, so uploading
// 100k blobs through the API takes over an hour; this writes the same documents in seconds.
//
//   TOOLS=.tools node bench/seed_blobs.js <__azurite_db_blob__.json> <container> <template blob> <names file>
"use strict";
const fs = require("fs");
const path = require("path");
const loki = require(path.join(process.env.TOOLS, "node_modules", "lokijs"));

const [dbFile, container, template, namesFile] = process.argv.slice(2);
const db = new loki(dbFile, { autoload: false });
db.loadJSON(fs.readFileSync(dbFile, "utf8"));
const blobs = db.getCollection("$BLOBS_COLLECTION$");
const source = blobs.findOne({ containerName: container, name: template });
if (source === null) {
  console.error(`no blob '${template}' in container '${container}' of ${dbFile}`);
  process.exit(2);
}
const names = fs.readFileSync(namesFile, "utf8").split("\n").filter(Boolean);
blobs.insert(names.map((name) => {
  const doc = JSON.parse(JSON.stringify(source));
  delete doc.$loki;
  delete doc.meta;
  doc.name = name;
  return doc;
}));
db.saveDatabase((err) => {
  if (err) {
    console.error(err);
    process.exit(1);
  }
  console.log(`${names.length} blobs cloned into '${container}'`);
});

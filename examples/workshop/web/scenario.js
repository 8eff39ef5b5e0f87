// The workshop's active scenario, read from the shared control file that
// `stackctl workshop scenario` writes ({"name", "until"}). Re-read when its
// mtime changes; a passed `until` means baseline, so scenarios revert by
// themselves.
'use strict';

const fs = require('fs');

const PATH = process.env.WORKSHOP_SCENARIO_FILE || '/control/scenario.json';
let cache = { mtime: null, doc: {} };

function active() {
  let mtime;
  try {
    mtime = fs.statSync(PATH).mtimeMs;
  } catch {
    return 'baseline';
  }
  if (mtime !== cache.mtime) {
    let doc = {};
    try {
      doc = JSON.parse(fs.readFileSync(PATH, 'utf8'));
    } catch {
      doc = {};
    }
    cache = { mtime, doc };
  }
  const { name, until } = cache.doc;
  if (until != null && Date.now() / 1000 >= until) return 'baseline';
  return name || 'baseline';
}

module.exports = { active };

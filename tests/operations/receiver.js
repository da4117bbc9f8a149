#!/usr/bin/env node
// A notification command for the tests: appends the event read on stdin to
// the file named by its first argument, then exits with the status in its
// second (default 0).
'use strict';
const fs = require('node:fs');
let input = '';
process.stdin.on('data', (d) => { input += d; });
process.stdin.on('end', () => {
  fs.appendFileSync(process.argv[2], JSON.stringify(JSON.parse(input)) + '\n');
  process.exit(Number(process.argv[3] || 0));
});

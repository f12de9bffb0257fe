// Browser tests of the dashboard: the real daemon, Debian's Chromium, the page as a user
// drives it. Run with UASYNCD_BIN=<path to uasyncd> node --test --test-concurrency=1
// dashboard.test.mjs (see package.json). Each *.suite.mjs holds one area; tests marked skipped
// wait for daemon changes specified in docs/dashboard-api.md.
import { after } from 'node:test';

import { closeBrowser } from './helpers.mjs';

import './basics.suite.mjs';
import './live.suite.mjs';
import './tabs.suite.mjs';
import './detail.suite.mjs';
import './screens.suite.mjs';
import './schedules.suite.mjs';
import './queues.suite.mjs';
import './instances.suite.mjs';
import './dashboard-api.suite.mjs';
import './origin.suite.mjs';

after(closeBrowser);

/** Entry of the section 6 child process: `node --import tsx bench/refresh-waits-child.ts <plan JSON> <refreshAheadMs>`. */
import { measureRefreshWaitsMode, reportFromChild } from './refresh-waits';

const [plan = '{}', refreshAheadMs = '0'] = process.argv.slice(2);

try {
  reportFromChild(await measureRefreshWaitsMode(JSON.parse(plan), Number(refreshAheadMs)));
  process.exit(0);
} catch (error) {
  console.error(`refresh-waits child failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}

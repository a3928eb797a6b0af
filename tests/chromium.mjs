// Prints the path of the Chromium that the npm package @sparticuz/chromium ships, unpacking it
// on first use. The package unpacks into os.tmpdir(): tests/browser.py points TMPDIR at a folder
// of its own, so that no other program's /tmp/chromium is taken for ours, or ours for theirs.
import chromium from "@sparticuz/chromium";

console.log(await chromium.executablePath());

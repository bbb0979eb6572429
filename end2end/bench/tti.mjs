// Time to interactive for scripts/bench: signs in as alice through the real
// IdP, then loads the first page STRONGROOM_TTI_RUNS times in headless
// Chromium and prints the medians (JSON on stdout) of navigation start to
// hydrated (the app sets <html data-hydrated=true> once the page has hydrated),
// with an empty cache and with a warm one. It also lists the /pkg/ files
// the first page fetches before it is interactive, and those each later
// route fetches on top when reached by a link (lazy routes' modules), for
// the benchmark to weigh.
import { chromium } from "@playwright/test";

const base = process.env.STRONGROOM_E2E_URL ?? "http://127.0.0.1:3000";
const runs = Number(process.env.STRONGROOM_TTI_RUNS ?? 11);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
});

// Records performance.now() (milliseconds since navigation start) the moment
// the hydration marker appears.
// Init scripts run before the document has its root element, so this
// watches the whole document.
const observe = () => {
  new MutationObserver((_, observer) => {
    if (document.documentElement?.dataset.hydrated === "true") {
      window.__hydratedAt = performance.now();
      observer.disconnect();
    }
  }).observe(document, { attributes: true, subtree: true, attributeFilter: ["data-hydrated"] });
};

async function signedInState() {
  const context = await browser.newContext({ baseURL: base });
  const page = await context.newPage();
  await page.goto("/");
  await page.locator("input[name=login]").fill("alice");
  await page.locator("input[name=password]").fill("demo");
  await page.locator("button[type=submit]").click();
  await page.getByRole("button", { name: "Continue" }).click();
  await page.waitForURL((url) => url.origin === new URL(base).origin && url.pathname === "/");
  const state = await context.storageState();
  await context.close();
  return state;
}

async function measure(page) {
  await page.goto("/");
  await page.waitForFunction(() => window.__hydratedAt !== undefined, null, { timeout: 30_000 });
  return page.evaluate(() => window.__hydratedAt);
}

// Later routes, reached from the first page by following a link.
const routes = (process.env.STRONGROOM_TTI_ROUTES ?? "").split(",").filter(Boolean);

// The /pkg/ files fetched until the first page is interactive, and, when
// `route` is given, those fetched on top by then following a link to it. A
// fresh context each time: nothing is cached from another route.
async function downloads(storageState, route) {
  const context = await browser.newContext({ baseURL: base, storageState });
  await context.addInitScript(observe);
  const page = await context.newPage();
  const fetched = [];
  let inFlight = 0;
  const isPkg = (r) => new URL(r.url()).pathname.startsWith("/pkg/");
  page.on("request", (r) => {
    if (isPkg(r)) {
      fetched.push(new URL(r.url()).pathname);
      inFlight++;
    }
  });
  const settle = (r) => isPkg(r) && inFlight--;
  page.on("requestfinished", settle);
  page.on("requestfailed", settle);
  const quiet = async () => {
    // Until no module has been asked for or is loading for half a second.
    let seen = -1;
    while (seen !== fetched.length || inFlight > 0) {
      seen = fetched.length;
      await page.waitForTimeout(500);
    }
  };
  await measure(page);
  await quiet();
  const first = [...new Set(fetched)];
  let extra = [];
  if (route) {
    await page.evaluate((href) => {
      const a = document.createElement("a");
      a.href = href;
      document.body.appendChild(a);
      a.click();
    }, route);
    await page.waitForURL((url) => url.pathname === route);
    await quiet();
    extra = [...new Set(fetched.filter((f) => !first.includes(f)))];
  }
  await context.close();
  return { first, extra };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

try {
  const storageState = await signedInState();
  const cold = [];
  for (let i = 0; i < runs; i++) {
    const context = await browser.newContext({ baseURL: base, storageState });
    await context.addInitScript(observe);
    cold.push(await measure(await context.newPage()));
    await context.close();
  }
  const context = await browser.newContext({ baseURL: base, storageState });
  await context.addInitScript(observe);
  const page = await context.newPage();
  await measure(page);
  const warm = [];
  for (let i = 0; i < runs; i++) warm.push(await measure(page));
  await context.close();
  const { first } = await downloads(storageState);
  const later = {};
  for (const route of routes) later[route] = (await downloads(storageState, route)).extra;
  console.log(JSON.stringify({ runs, cold_ms: median(cold), warm_ms: median(warm), cold, warm, first, later }));
} finally {
  await browser.close();
}

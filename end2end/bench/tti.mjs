// Time to interactive for scripts/bench: signs in as alice through the real
// IdP, then loads the first page STRONGROOM_TTI_RUNS times in headless
// Chromium and prints the medians (JSON on stdout) of navigation start to
// hydrated (the app sets <html data-hydrated=true> once hydrate() has run),
// with an empty cache and with a warm one.
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
  console.log(JSON.stringify({ runs, cold_ms: median(cold), warm_ms: median(warm), cold, warm }));
} finally {
  await browser.close();
}

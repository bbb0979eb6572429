import { expect, type Page } from "@playwright/test";
import AxeBuilder from "@axe-core/playwright";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";

/** Signs in through the real IdP's login and consent forms. */
export async function signIn(page: Page, login: string, path = "/") {
  await page.goto(path);
  await page.locator("input[name=login]").fill(login);
  await page.locator("input[name=password]").fill("demo");
  await page.locator("button[type=submit]").click();
  await page.getByRole("button", { name: "Continue" }).click();
  await page.waitForURL((url) => url.pathname === new URL(path, "http://x").pathname);
  await waitForHydration(page);
}

/** Waits until the page has hydrated: the app marks the document once the
 * page itself is (a lazy route's page hydrates after the frame). */
export async function waitForHydration(page: Page) {
  await expect(page.locator("html[data-hydrated=true]")).toHaveCount(1);
}

/**
 * Creates a generic secret in team-a through the create form (signing in
 * first when `login` is given) and waits for its detail page. Returns the
 * secret's name: `prefix` plus a unique suffix.
 */
export async function createSecret(page: Page, prefix: string, data: Record<string, string>, login?: string) {
  const name = `${prefix}-${Date.now().toString(36)}${Math.floor(Math.random() * 1000)}`;
  if (login) {
    await signIn(page, login, "/ns/team-a/new");
  } else {
    await page.goto("/ns/team-a/new");
    await waitForHydration(page);
  }
  await page.locator("input[name=name]").fill(name);
  const entries = Object.entries(data);
  for (let i = 1; i < entries.length; i++) await page.getByRole("button", { name: "Add key" }).click();
  const rows = page.getByTestId("kv-row");
  for (const [i, [key, value]] of entries.entries()) {
    await rows.nth(i).locator("input[name=key]").fill(key);
    await rows.nth(i).locator("textarea[name=value]").fill(value);
  }
  await page.getByTestId("create-submit").click();
  await expect(page.getByTestId("secret-name")).toHaveText(name);
  return name;
}

/** Opens the section of a secret's page headed `title` (it is closed until
 * opened, and only then loads) and returns it. */
export async function openSection(page: Page, title: string) {
  const section = page.locator("details.section", { has: page.getByRole("heading", { name: title, exact: true }) });
  if (!(await section.evaluate((d: HTMLDetailsElement) => d.open))) await section.locator("summary").click();
  await expect(section).toHaveAttribute("open", "");
  return section;
}

/** Opens every section of a secret's page. */
export async function openAllSections(page: Page) {
  const closed = page.locator("details.section:not([open]) > summary");
  while ((await closed.count()) > 0) await closed.first().click();
  await expect(page.locator("details.section:not([open])")).toHaveCount(0);
  await expect(page.locator("details.section .loading")).toHaveCount(0);
}

/** axe-core on the page as it is, light and dark: zero serious or critical
 * violations of WCAG 2.1 A/AA. */
export async function expectAccessible(page: Page, state: string) {
  for (const scheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    const results = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
    const bad = results.violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
    expect(bad, `${state}, ${scheme}`).toEqual([]);
  }
  await page.emulateMedia({ colorScheme: "light" });
}

/** The stack's admin kubectl (`$STRONGROOM_STACK_DIR/env`), fed `input` on stdin. */
export function kubectl(args: string[], input?: string): string {
  const dir = process.env.STRONGROOM_STACK_DIR;
  if (!dir) throw new Error("STRONGROOM_STACK_DIR is not set: run the browser tests through scripts/test");
  const env = Object.fromEntries(
    readFileSync(join(dir, "env"), "utf8")
      .split("\n")
      .map((l) => l.trim().replace(/^export /, ""))
      .filter((l) => l.includes("="))
      .map((l) => {
        const i = l.indexOf("=");
        return [l.slice(0, i), l.slice(i + 1).replace(/^['"]|['"]$/g, "")];
      }),
  );
  return execFileSync(env.KUBECTL, ["--kubeconfig", env.ADMIN_KUBECONFIG, ...args], { input, encoding: "utf8" });
}

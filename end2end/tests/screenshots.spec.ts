import { test, expect, type Page } from "@playwright/test";
import * as path from "node:path";
import { signIn } from "./helpers";

// Saves pictures of the main pages, light and dark, for the README.
const dir = path.resolve(__dirname, "../../docs/screenshots");

async function shoot(page: Page, name: string) {
  for (const scheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.waitForTimeout(150);
    await page.screenshot({ path: path.join(dir, `${name}-${scheme}.png`), fullPage: true });
  }
}

test("screenshots of the main pages", async ({ page }) => {
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto("/");
  await expect(page.locator("input[name=login]")).toBeVisible();
  await shoot(page, "sign-in");

  const name = `payments-api-${Date.now().toString(36)}`;
  await signIn(page, "alice", "/ns/team-a/new");
  await page.locator("input[name=name]").fill(name);
  await page.getByTestId("template").selectOption("aws");
  const rows = page.getByTestId("kv-row");
  await rows.nth(0).locator("textarea[name=value]").fill("AKIAIOSFODNN7EXAMPLE");
  await rows.nth(1).locator("textarea[name=value]").fill("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
  await page.locator("textarea[name=labels]").fill("app=payments\ntier=backend");
  await shoot(page, "create-form");
  await page.getByTestId("create-submit").click();
  await expect(page.getByTestId("secret-name")).toHaveText(name);

  await page.goto("/");
  await expect(page.getByTestId("namespace-list")).toBeVisible();
  await shoot(page, "namespaces");

  await page.goto("/ns/team-a");
  await expect(page.getByTestId("secret-table")).toBeVisible();
  await shoot(page, "secret-list");

  await page.goto(`/ns/team-a/secrets/${name}`);
  await page.locator('tr[data-key="AWS_SECRET_ACCESS_KEY"]').getByTestId("reveal").click();
  await expect(page.getByTestId("revealed-value")).toBeVisible();
  await shoot(page, "secret-detail");

  const dave = await page.context().browser()!.newPage();
  await dave.setViewportSize({ width: 1280, height: 800 });
  await signIn(dave, "dave", "/audit");
  await expect(dave.getByTestId("audit-table")).toBeVisible();
  await shoot(dave, "audit");
});

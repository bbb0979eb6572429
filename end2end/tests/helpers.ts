import { expect, type Page } from "@playwright/test";

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

/** Waits until the page has hydrated (the app marks the document). */
export async function waitForHydration(page: Page) {
  await expect(page.locator("html[data-hydrated=true]")).toHaveCount(1);
}

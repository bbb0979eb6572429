import { test, expect } from "@playwright/test";
import { signIn } from "./helpers";

test("the dashboard is served by the real server and hydrates in the browser", async ({ page }) => {
  await signIn(page, "alice");
  const html = page.locator("html");
  const before = await html.getAttribute("data-theme");
  await page.getByTestId("theme-toggle").click();
  await expect(html).toHaveAttribute("data-theme", /^(light|dark)$/);
  const after = await html.getAttribute("data-theme");
  expect(after).not.toBe(before);
  // The choice is remembered across a reload.
  await page.reload();
  await expect(html).toHaveAttribute("data-theme", after!);
});

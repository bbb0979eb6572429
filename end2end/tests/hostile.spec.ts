import { test, expect } from "@playwright/test";
import { createSecret, openAllSections, openSection } from "./helpers";

// HTML and script in annotations and values render as text: nothing runs,
// nothing is parsed as markup.
test("markup in annotations and values renders inert", async ({ page }) => {
  const payload = `<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>`;
  const name = await createSecret(page, "inert", { html: payload }, "alice");
  await openSection(page, "Change");
  const meta = page.getByTestId("metadata-form");
  await meta.locator("textarea[name=annotations]").fill(`note=${payload}`);
  await meta.getByRole("button", { name: "Save labels and annotations" }).click();
  await expect(page.getByTestId("metadata")).toContainText(`note: ${payload}`);
  await page.locator('tr[data-key="html"]').getByTestId("reveal").click();
  await expect(page.getByTestId("revealed-value")).toHaveText(payload);
  await page.reload();
  await expect(page.getByTestId("secret-name")).toHaveText(name);
  await page.locator('tr[data-key="html"]').getByTestId("reveal").click();
  await expect(page.getByTestId("revealed-value")).toHaveText(payload);
  // Every section drawn too (the export's YAML carries the revealed value).
  await openAllSections(page);
  await expect(page.getByTestId("export-yaml")).toContainText(Buffer.from(payload).toString("base64"));
  expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
  await expect(page.locator("main img")).toHaveCount(0);
});

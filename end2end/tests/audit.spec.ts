import { test, expect } from "@playwright/test";
import { signIn } from "./helpers";

test("dave filters the audit page to alice's reveals in team-a and exports them", async ({ page, browser }) => {
  const name = `audited-${Date.now().toString(36)}`;
  const alice = await browser.newPage();
  await signIn(alice, "alice", "/ns/team-a/new");
  await alice.locator("input[name=name]").fill(name);
  await alice.getByTestId("kv-row").first().locator("input[name=key]").fill("k");
  await alice.getByTestId("kv-row").first().locator("textarea[name=value]").fill("v");
  await alice.getByTestId("create-submit").click();
  await expect(alice).toHaveURL(new RegExp(`/secrets/${name}$`));
  await alice.getByTestId("reveal-all").click();
  await expect(alice.getByTestId("revealed-value")).toHaveText("v");
  await alice.close();

  await signIn(page, "dave", "/audit");
  const filters = page.getByTestId("audit-filters");
  await filters.locator("input[name=user]").fill("oidc:alice@example.com");
  await filters.locator("input[name=user]").press("Tab");
  await filters.locator("input[name=namespace]").fill("team-a");
  await filters.locator("input[name=namespace]").press("Tab");
  await filters.locator("select[name=action]").selectOption("reveal");
  await filters.locator("input[name=secret]").fill(name);
  await filters.locator("input[name=secret]").press("Tab");
  const table = page.getByTestId("audit-table");
  await expect(table.locator("tbody tr")).toHaveCount(1);
  await expect(table).toContainText("oidc:alice@example.com");
  await expect(table).toContainText(`team-a/${name}`);

  const href = await page.getByTestId("export-jsonl").getAttribute("href");
  const res = await page.request.get(href!);
  expect(res.status()).toBe(200);
  const lines = (await res.text()).trim().split("\n").map((l) => JSON.parse(l));
  expect(lines).toHaveLength(1);
  expect(lines[0].user).toBe("oidc:alice@example.com");
  expect(lines[0].action).toBe("reveal");
  expect(JSON.stringify(lines[0])).not.toContain('"v"');
});

test("eve cannot open the audit page", async ({ page }) => {
  await signIn(page, "eve", "/audit");
  await expect(page.getByTestId("error-panel")).toContainText("Only members of oidc:auditors");
});

import { test, expect, type Page } from "@playwright/test";
import { createSecret, expectAccessible, openAllSections, openSection, signIn, waitForHydration } from "./helpers";

test("every page and state has no serious or critical axe violations", async ({ page, browser }) => {
  // About thirty axe runs, light and dark: more than the default minute on a
  // busy 2-core machine (a harness limit, not a time the test asserts).
  test.setTimeout(180_000);
  await signIn(page, "alice", "/");
  await expect(page.getByTestId("namespace-list")).toBeVisible();
  await expectAccessible(page, "namespaces");

  const name = await createSecret(page, "a11y", { token: "s3cr3t-a11y" });
  await expectAccessible(page, "detail");
  await openAllSections(page);
  await expectAccessible(page, "detail, every section open");
  await page.locator('tr[data-key="token"]').getByTestId("reveal").click();
  await expect(page.getByTestId("revealed-value")).toBeVisible();
  await expectAccessible(page, "detail with a value revealed");
  await page.getByTestId("delete-open").click();
  await expect(page.getByRole("dialog")).toBeVisible();
  await expectAccessible(page, "delete dialog");
  await page.keyboard.press("Escape");

  await page.goto("/ns/team-a");
  await expect(page.getByTestId("secret-table")).toBeVisible();
  await expectAccessible(page, "secret list");
  await page.getByTestId("filter").fill(`no-such-secret-${name}`);
  await expect(page.getByTestId("no-secrets")).toBeVisible();
  await expectAccessible(page, "secret list, nothing matches");

  await page.goto("/ns/team-a/new");
  await waitForHydration(page);
  await expectAccessible(page, "create form");
  await page.locator("input[name=name]").fill("Not_A_Valid_Name");
  await page.getByTestId("create-submit").click();
  await expect(page.locator("#name-error")).not.toBeEmpty();
  await expectAccessible(page, "create form with errors");
  for (const kind of ["docker-registry", "tls", "env-file", "basic-auth", "ssh-auth"]) {
    await page.locator(`[role=tab][data-kind=${kind}]`).click();
    await expect(page.locator(`[role=tab][data-kind=${kind}]`)).toHaveAttribute("aria-selected", "true");
    await expectAccessible(page, `create form, ${kind}`);
  }

  await page.goto("/me");
  await waitForHydration(page);
  await expectAccessible(page, "identity");

  await page.goto("/no/such/page");
  await expectAccessible(page, "not found");

  const daveContext = await browser.newContext();
  const dave = await daveContext.newPage();
  await signIn(dave, "dave", "/audit");
  await expect(dave.getByTestId("audit-table")).toBeVisible();
  await expectAccessible(dave, "audit");
  await daveContext.close();

  const bobContext = await browser.newContext();
  const bob = await bobContext.newPage();
  await signIn(bob, "bob", "/ns/team-a");
  await expect(bob.getByTestId("error-panel")).toBeVisible();
  await expectAccessible(bob, "error panel");
  await bobContext.close();
});

test("error fields are tied to their inputs", async ({ page }) => {
  await signIn(page, "alice", "/ns/team-a/new");
  await page.locator("input[name=name]").fill("Bad Name");
  await page.getByTestId("create-submit").click();
  const name = page.locator("input[name=name]");
  await expect(name).toHaveAttribute("aria-invalid", "true");
  const described = await name.getAttribute("aria-describedby");
  await expect(page.locator(`#${described}`)).toContainText("lowercase");
});

test("keyboard: / focuses the filter, Escape closes dialogs, Enter submits, focus is visible", async ({ page }) => {
  const name = await createSecret(page, "kbd", { token: "keyboard-value" }, "alice");
  await page.goto("/ns/team-a");
  await waitForHydration(page);
  await page.locator("body").click({ position: { x: 5, y: 300 } });
  await page.keyboard.press("/");
  await expect(page.getByTestId("filter")).toBeFocused();
  await page.keyboard.type(name);
  await expect(page.getByTestId("secret-table").getByRole("link", { name })).toBeVisible();

  // Tab moves focus with a visible outline.
  await page.keyboard.press("Tab");
  const outline = await page.evaluate(() => {
    const el = document.activeElement as HTMLElement;
    const style = getComputedStyle(el);
    return { style: style.outlineStyle, width: parseFloat(style.outlineWidth) };
  });
  expect(outline.style).not.toBe("none");
  expect(outline.width).toBeGreaterThan(0);

  // Escape closes the delete dialog without deleting.
  await page.getByTestId("secret-table").getByRole("link", { name }).click();
  await expect(page.getByTestId("secret-name")).toHaveText(name);
  await openSection(page, "Change");
  await page.getByTestId("delete-open").focus();
  await page.keyboard.press("Enter");
  await expect(page.getByRole("dialog")).toBeVisible();
  await expect(page.getByRole("dialog").locator("input[name=confirm]")).toBeFocused();
  await page.keyboard.press("Escape");
  await expect(page.getByRole("dialog")).toBeHidden();
  await expect(page.getByTestId("secret-name")).toHaveText(name);

  // Enter in the dialog's field deletes once the name is typed; a toast says so.
  await page.getByTestId("delete-open").click();
  await page.getByRole("dialog").locator("input[name=confirm]").fill(name);
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/\/ns\/team-a$/);
  await expect(page.getByRole("status").filter({ hasText: `Deleted ${name}` })).toBeVisible();

  // Arrow keys move between the kind tabs.
  await page.goto("/ns/team-a/new");
  await waitForHydration(page);
  await page.locator("[role=tab][data-kind=generic]").focus();
  await page.keyboard.press("ArrowRight");
  await expect(page.locator("[role=tab][data-kind=env-file]")).toBeFocused();
  await expect(page.locator("[role=tab][data-kind=env-file]")).toHaveAttribute("aria-selected", "true");
  await expect(page.locator("textarea[name=envFile]")).toBeVisible();
  await page.keyboard.press("ArrowLeft");
  await expect(page.locator("[role=tab][data-kind=generic]")).toHaveAttribute("aria-selected", "true");

  // Enter submits the create form.
  await page.goto("/ns/team-a/new");
  await waitForHydration(page);
  const created = `enter-${Date.now().toString(36)}`;
  await page.locator("input[name=name]").fill(created);
  const row = page.getByTestId("kv-row").first();
  await row.locator("input[name=key]").fill("k");
  await row.locator("textarea[name=value]").fill("v");
  await page.locator("input[name=name]").press("Enter");
  await expect(page.getByTestId("secret-name")).toHaveText(created);
  await expect(page.getByRole("status").filter({ hasText: `Created ${created}` })).toBeVisible();
});

test("revealed values are hidden again on navigation", async ({ page }) => {
  const name = await createSecret(page, "rehide", { token: "rehide-value" }, "alice");
  await page.locator('tr[data-key="token"]').getByTestId("reveal").click();
  await expect(page.getByTestId("revealed-value")).toHaveText("rehide-value");
  await page.getByRole("navigation", { name: "Breadcrumb" }).getByRole("link", { name: "team-a" }).click();
  await expect(page.getByTestId("secret-table")).toBeVisible();
  await page.goBack();
  await expect(page.getByTestId("secret-name")).toHaveText(name);
  await expect(page.getByTestId("revealed-value")).toHaveCount(0);
  await expect(page.locator("body")).not.toContainText("rehide-value");
});

test("a failed request shows a message and a retry button that recovers", async ({ page }) => {
  await signIn(page, "alice", "/");
  await page.route("**/api/v1/namespaces/team-a/secrets?*", (route) => route.abort("connectionrefused"));
  await page.goto("/ns/team-a");
  await expect(page.getByTestId("error-panel")).toContainText("Could not reach Strongroom");
  await page.unroute("**/api/v1/namespaces/team-a/secrets?*");
  await page.getByRole("button", { name: "Try again" }).click();
  await expect(page.getByTestId("secret-table")).toBeVisible();
});

test("an expired session goes through sign-in and back with the form kept, never its values", async ({ page, context }) => {
  await signIn(page, "alice", "/ns/team-a/new");
  const name = `kept-${Date.now().toString(36)}`;
  await page.locator("input[name=name]").fill(name);
  const row = page.getByTestId("kv-row").first();
  await row.locator("input[name=key]").fill("API_TOKEN");
  await row.locator("textarea[name=value]").fill("never-stored-value");
  await page.locator("textarea[name=labels]").fill("app=kept");
  // The Strongroom session ends (the IdP session too, so sign-in asks again).
  await context.clearCookies();
  await page.getByTestId("create-submit").click();
  await expect(page.locator("input[name=login]")).toBeVisible();
  await page.locator("input[name=login]").fill("alice");
  await page.locator("input[name=password]").fill("demo");
  await page.locator("button[type=submit]").click();
  await page.getByRole("button", { name: "Continue" }).click();
  await page.waitForURL(/\/ns\/team-a\/new$/);
  await waitForHydration(page);
  await expect(page.locator("input[name=name]")).toHaveValue(name);
  await expect(page.getByTestId("kv-row").first().locator("input[name=key]")).toHaveValue("API_TOKEN");
  await expect(page.getByTestId("kv-row").first().locator("textarea[name=value]")).toHaveValue("");
  await expect(page.locator("textarea[name=labels]")).toHaveValue("app=kept");
  await expect(page.getByRole("status").filter({ hasText: "signed in again" })).toBeVisible();
  const stored = await page.evaluate(() => JSON.stringify({ ...sessionStorage }) + JSON.stringify({ ...localStorage }));
  expect(stored).not.toContain("never-stored-value");
});

test("phones: 375 px wide pages do not scroll sideways", async ({ page }) => {
  await page.setViewportSize({ width: 375, height: 740 });
  const name = await createSecret(page, "phone", { token: "phone-value" }, "alice");
  for (const path of ["/", "/ns/team-a", "/ns/team-a/new", `/ns/team-a/secrets/${name}`]) {
    await page.goto(path);
    await waitForHydration(page);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow, path).toBeLessThanOrEqual(0);
  }
});

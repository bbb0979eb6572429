import { test, expect } from "@playwright/test";
import { createSecret, openSection, signIn, waitForHydration } from "./helpers";

const uniq = (p: string) => `${p}-${Date.now().toString(36)}`;

test("alice creates AWS credentials from the template, reveals, decodes, rotates and deletes them", async ({ page }) => {
  const name = uniq("aws");
  await signIn(page, "alice", "/ns/team-a/new");
  await page.locator("input[name=name]").fill(name);
  await page.getByTestId("template").selectOption("aws");
  const rows = page.getByTestId("kv-row");
  await expect(rows).toHaveCount(2);
  await expect(rows.nth(0).locator("input[name=key]")).toHaveValue("AWS_ACCESS_KEY_ID");
  await rows.nth(0).locator("textarea[name=value]").fill("AKIAEXAMPLE");
  await rows.nth(1).locator("textarea[name=value]").fill("wJalrXUtnFEMI/K7MDENG");
  await page.getByTestId("create-submit").click();
  await expect(page).toHaveURL(new RegExp(`/ns/team-a/secrets/${name}$`));
  await expect(page.getByTestId("secret-name")).toHaveText(name);
  // Values are not on the page until asked for.
  await expect(page.locator("body")).not.toContainText("wJalrXUtnFEMI");

  // It is listed.
  await page.goto("/ns/team-a");
  // The filter reacts once the page has hydrated.
  await waitForHydration(page);
  await page.getByTestId("filter").fill(name);
  await expect(page.getByTestId("secret-table").getByRole("link", { name })).toBeVisible();
  await page.getByRole("link", { name }).click();

  // Export: the kubectl command and the YAML carry placeholders, not values.
  await page.locator("summary", { hasText: /^Export$/ }).click();
  await expect(page.getByTestId("export-command")).toContainText(`kubectl create secret generic ${name} -n team-a '--from-literal=AWS_ACCESS_KEY_ID=<AWS_ACCESS_KEY_ID>'`);
  await expect(page.getByTestId("export-yaml")).toContainText('"AWS_SECRET_ACCESS_KEY": <redacted>');

  // The {.data} view, then one key decoded.
  await page.getByTestId("reveal-all").click();
  await expect(page.getByTestId("data-json")).toContainText(Buffer.from("wJalrXUtnFEMI/K7MDENG").toString("base64"));
  const secretRow = page.locator('tr[data-key="AWS_SECRET_ACCESS_KEY"]');
  await expect(secretRow.getByTestId("revealed-value")).toHaveText("wJalrXUtnFEMI/K7MDENG");
  // Revealed values appear in the YAML export, as stored (base64).
  await expect(page.getByTestId("export-yaml")).toContainText(Buffer.from("wJalrXUtnFEMI/K7MDENG").toString("base64"));
  await secretRow.getByRole("button", { name: "Hide" }).click();
  await expect(secretRow.getByTestId("revealed-value")).toHaveCount(0);

  // Rotate the secret key.
  await openSection(page, "Change");
  const form = page.getByTestId("set-key-form");
  await form.locator("input[name=key]").fill("AWS_SECRET_ACCESS_KEY");
  await form.locator("textarea[name=value]").fill("rotated-value-2");
  // Before it is saved: which keys change, values masked.
  await form.getByRole("button", { name: "Review change…" }).click();
  const preview = page.getByTestId("change-preview");
  await expect(preview.locator('li[data-key="AWS_SECRET_ACCESS_KEY"]')).toHaveAttribute("data-change", "changed");
  await expect(preview.locator('li[data-key="AWS_ACCESS_KEY_ID"]')).toHaveAttribute("data-change", "same");
  await expect(preview).not.toContainText("rotated-value-2");
  await preview.getByRole("button", { name: "Confirm and save" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Saved" })).toBeVisible();
  // Keys over time: who changed which value, and that the rotated value is
  // no longer the one she revealed.
  await openSection(page, "Keys over time");
  const states = page.getByTestId("key-states");
  await expect(states.locator('tr[data-key="AWS_SECRET_ACCESS_KEY"]')).toContainText("changed");
  await expect(states.locator('tr[data-key="AWS_SECRET_ACCESS_KEY"]')).toContainText("oidc:alice@example.com");
  await expect(states.locator('tr[data-key="AWS_SECRET_ACCESS_KEY"]').getByTestId("since-your-reveal")).toContainText("changed since");
  await expect(states.locator('tr[data-key="AWS_ACCESS_KEY_ID"]').getByTestId("since-your-reveal")).toContainText("unchanged");
  await page.locator('tr[data-key="AWS_SECRET_ACCESS_KEY"]').getByTestId("reveal").click();
  await expect(page.locator('tr[data-key="AWS_SECRET_ACCESS_KEY"]').getByTestId("revealed-value")).toHaveText("rotated-value-2");

  // Labels and annotations are edited in place.
  const meta = page.getByTestId("metadata-form");
  await meta.locator("textarea[name=labels]").fill("team=payments");
  await meta.locator("textarea[name=annotations]").fill("owner=alice@example.com");
  await meta.getByRole("button", { name: "Save labels and annotations" }).click();
  await expect(page.getByTestId("metadata")).toContainText("team=payments");
  await expect(page.getByTestId("metadata")).toContainText("owner: alice@example.com");

  // Her own reveals show in the access history.
  await page.reload();
  await openSection(page, "Access history");
  await expect(page.getByTestId("audit-table")).toContainText("oidc:alice@example.com");
  await expect(page.getByTestId("audit-table")).toContainText("reveal");

  // Delete, confirming by typing the name.
  await openSection(page, "Change");
  await page.getByTestId("delete-open").click();
  const del = page.getByTestId("delete-form");
  await expect(del.getByRole("button", { name: "Delete secret" })).toBeDisabled();
  await del.locator("input[name=confirm]").fill(name);
  await del.getByRole("button", { name: "Delete secret" }).click();
  await expect(page).toHaveURL(/\/ns\/team-a$/);
});

test("validation errors appear next to the field", async ({ page }) => {
  await signIn(page, "alice", "/ns/team-a/new");
  await page.locator("input[name=name]").fill("Not_Valid");
  await page.getByTestId("kv-row").first().locator("input[name=key]").fill("bad key");
  await page.getByTestId("create-submit").click();
  await expect(page.locator("#name-error")).toContainText("lowercase");
  await expect(page.locator("#data-error")).toContainText("not allowed in a key");
});

test("carol can list team-a secrets but revealing is refused with a clear message", async ({ page, browser }) => {
  const name = uniq("shared");
  // alice creates one for carol to look at.
  const alice = await browser.newPage();
  await signIn(alice, "alice", "/ns/team-a/new");
  await alice.locator("input[name=name]").fill(name);
  await alice.getByTestId("kv-row").first().locator("input[name=key]").fill("token");
  await alice.getByTestId("kv-row").first().locator("textarea[name=value]").fill("for-alice-only");
  await alice.getByTestId("create-submit").click();
  await expect(alice).toHaveURL(new RegExp(`/secrets/${name}$`));
  await alice.close();

  await signIn(page, "carol", "/ns/team-a");
  await page.getByTestId("filter").fill(name);
  await expect(page.getByTestId("secret-table").getByRole("link", { name })).toBeVisible();
  await page.goto(`/ns/team-a/secrets/${name}`);
  await expect(page.getByTestId("error-panel")).toContainText("does not allow oidc:carol@example.com to get");
  await expect(page.locator("body")).not.toContainText("for-alice-only");
});

test("bob cannot see team-a at all", async ({ page }) => {
  await signIn(page, "bob", "/ns/team-a");
  await expect(page.getByTestId("error-panel")).toContainText("does not allow oidc:bob@example.com to list secrets in namespace team-a");
});

test("a reveal shows up in the secret's access history at once, without a reload", async ({ page }) => {
  const name = await createSecret(page, "history", { token: "history-value" }, "alice");
  await openSection(page, "Access history");
  const history = page.getByTestId("audit-table");
  await expect(history.locator("tr[data-outcome]")).toHaveCount(1); // the creation
  await page.locator('tr[data-key="token"]').getByTestId("reveal").click();
  await expect(page.getByTestId("revealed-value")).toHaveText("history-value");
  await expect(history.locator("tr[data-outcome]")).toHaveCount(2);
  await expect(history.locator("tr[data-outcome]").first()).toContainText("reveal");
  await expect(history).not.toContainText("history-value");
  expect(name).toContain("history");
});

test("a secret's page asks only for the secret; a section's data loads when it is opened", async ({ page }) => {
  const name = await createSecret(page, "sections", { token: "sections-value" }, "alice");
  const api: string[] = [];
  page.on("request", (r) => {
    const path = new URL(r.url()).pathname;
    if (path.startsWith("/api/v1/")) api.push(path);
  });
  await page.reload();
  await waitForHydration(page);
  await expect(page.getByTestId("key-table")).toBeVisible();
  const secret = `/api/v1/namespaces/team-a/secrets/${name}`;
  // The page's own requests: the secret (and /me, which the frame shares).
  await expect.poll(() => api.filter((p) => p === secret)).toHaveLength(1);
  expect(api.filter((p) => p.startsWith(`${secret}/`))).toEqual([]);
  await expect(page.locator("details.section[open]")).toHaveCount(0);

  // Opening "Used by" fetches its data, once.
  const usage = await openSection(page, "Used by");
  await expect(usage.locator(".loading")).toHaveCount(0);
  await expect.poll(() => api.filter((p) => p === `${secret}/usage`)).toHaveLength(1);
  expect(api.filter((p) => p.startsWith(`${secret}/`) && p !== `${secret}/usage`)).toEqual([]);
  // Closed and opened again, it keeps what it loaded.
  await usage.locator("summary").click();
  await expect(usage).not.toHaveAttribute("open", "");
  await usage.locator("summary").click();
  await expect(usage).toHaveAttribute("open", "");
  await expect(usage.locator(".usage")).toBeVisible();
  await page.waitForTimeout(300); // time for a second request, were one made
  expect(api.filter((p) => p === `${secret}/usage`)).toHaveLength(1);

  // Closed, then a change of values: the redrawn page keeps Change open
  // and opens Used by to offer restarts.
  await usage.locator("summary").click();
  await expect(usage).not.toHaveAttribute("open", "");
  await openSection(page, "Change");
  const form = page.getByTestId("set-key-form");
  await form.locator("input[name=key]").fill("added");
  await form.locator("textarea[name=value]").fill("another-value");
  await form.getByRole("button", { name: "Review change…" }).click();
  await page.getByTestId("change-preview").getByRole("button", { name: "Confirm and save" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Saved" })).toBeVisible();
  await expect(page.locator('tr[data-key="added"]')).toBeVisible();
  await expect(page.getByTestId("usage-panel")).toHaveAttribute("open", "");
  await expect(page.getByTestId("set-key-form")).toBeVisible();
  await expect(page.locator("details.section#keys-over-time")).not.toHaveAttribute("open", "");
});

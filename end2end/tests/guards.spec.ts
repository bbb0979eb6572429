import { test, expect } from "@playwright/test";
import { expectAccessible, kubectl, openSection, signIn, waitForHydration } from "./helpers";

// Guarded namespaces (issue 18) in the browser: payments asks for a fresh
// sign-in and a second person's approval (scripts/lib.sh DEMO_GUARDS).
// alice's reveal turns into an access request, grace approves it on the
// approvals page, and alice's reveal then works.

test("alice asks for access in payments, grace approves, and alice reveals the approved key", async ({ browser }) => {
  const name = `card-${Date.now().toString(36)}`;
  kubectl([
    "create", "secret", "generic", name, "-n", "payments",
    "--from-literal=api-key=pk_live_from_the_browser_test", "--from-literal=merchant=acme",
  ]);
  const alice = await (await browser.newContext()).newPage();
  await signIn(alice, "alice", `/ns/payments/secrets/${name}`);
  // The guards show before anyone clicks.
  await expect(alice.getByTestId("guard-note")).toContainText("a second person's approval");
  await expect(alice.getByTestId("guards")).toContainText("approval required");
  await expect(alice.getByTestId("guards")).toContainText("fresh sign-in (5 min)");

  await alice.locator('tr[data-key="api-key"]').getByTestId("reveal").click();
  await expect(alice.getByTestId("approval-required")).toContainText("oidc:secret-approvers");
  await expect(alice.getByTestId("revealed-value")).toHaveCount(0);
  const form = alice.getByTestId("request-access");
  await expect(form.locator('input[value="api-key"]')).toBeChecked();
  await expect(form.locator('input[value="merchant"]')).not.toBeChecked();
  await form.locator("textarea[name=request-reason]").fill("Rotating the payment provider key (CHG-2211)");
  await expectAccessible(alice, "access request form");
  await form.getByTestId("send-request").click();
  await expect(alice.getByTestId("my-requests")).toContainText("pending");

  const grace = await (await browser.newContext()).newPage();
  await signIn(grace, "grace", "/approvals");
  const row = grace.getByTestId("to-decide").locator("li", { hasText: name });
  await expect(row).toContainText("Rotating the payment provider key (CHG-2211)");
  await expect(row).toContainText("api-key");
  await row.locator("input[name=comment]").fill("OK for CHG-2211");
  await expectAccessible(grace, "approvals page");
  // Keyboard only: the approve button is reachable and works with Enter.
  await row.getByTestId("approve").focus();
  await grace.keyboard.press("Enter");
  await expect(grace.getByTestId("decided").locator("li", { hasText: name })).toContainText("approved");

  await alice.reload();
  await waitForHydration(alice);
  await expect(alice.getByTestId("my-requests")).toContainText("approved");
  await expect(alice.getByTestId("my-requests")).toContainText("OK for CHG-2211");
  await alice.locator('tr[data-key="api-key"]').getByTestId("reveal").click();
  await expect(alice.locator('tr[data-key="api-key"]').getByTestId("revealed-value")).toHaveText("pk_live_from_the_browser_test");
  // The other key was not approved.
  await alice.locator('tr[data-key="merchant"]').getByTestId("reveal").click();
  await expect(alice.getByTestId("approval-required")).toBeVisible();
  await expect(alice.locator('tr[data-key="merchant"]').getByTestId("revealed-value")).toHaveCount(0);
  // The secret's history shows the request and the approval.
  await openSection(alice, "Access history");
  const history = alice.getByTestId("audit-table");
  await expect(history).toContainText("request");
  await expect(history).toContainText("approve");
});

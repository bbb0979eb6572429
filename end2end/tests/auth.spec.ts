import { test, expect } from "@playwright/test";
import { signIn } from "./helpers";

test("alice sees her identity, groups and team-a in the namespace picker", async ({ page }) => {
  await signIn(page, "alice", "/me");
  await expect(page.getByTestId("username")).toHaveText("oidc:alice@example.com");
  await expect(page.getByTestId("groups")).toContainText("oidc:team-a-editors");
  await page.goto("/");
  const list = page.getByTestId("namespace-list");
  await expect(list.getByRole("link", { name: "team-a" })).toBeVisible();
  await expect(list.getByRole("link", { name: "team-b" })).toHaveCount(0);
});

test("bob sees team-b and not team-a", async ({ page }) => {
  await signIn(page, "bob");
  const list = page.getByTestId("namespace-list");
  await expect(list.getByRole("link", { name: "team-b" })).toBeVisible();
  await expect(list.getByRole("link", { name: "team-a" })).toHaveCount(0);
});

test("eve sees no namespaces and a helpful message", async ({ page }) => {
  await signIn(page, "eve");
  const empty = page.getByTestId("no-namespaces");
  await expect(empty).toContainText("no namespace lets you list secrets");
  await expect(empty).toContainText("oidc:eve@example.com");
});

test("after sign-out the back button shows no data", async ({ page }) => {
  await signIn(page, "alice", "/me");
  await expect(page.getByTestId("username")).toHaveText("oidc:alice@example.com");
  await page.getByRole("button", { name: "Sign out" }).click();
  // RP-initiated logout at the IdP asks for confirmation.
  await page.getByRole("button", { name: "Yes, sign me out" }).click();
  await page.waitForURL(/\/interaction\/|\/auth\//);
  await page.goBack();
  await page.goBack();
  // Whatever page the browser lands on, it must not show alice's data.
  await expect(page.getByTestId("username")).toHaveCount(0);
  const res = await page.request.get("/api/v1/me");
  expect(res.status()).toBe(401);
});

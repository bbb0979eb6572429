import { test, expect, type Page } from "@playwright/test";
import { createSecret, expectAccessible, kubectl, openSection } from "./helpers";

// "Used by" and "restart after rotation" (issue 17, items 1 and 2): the
// workloads are made by the admin with the stack's real kubectl (objects
// only: the test stack has no kubelet), the rest is alice in the browser.

function deployment(name: string, spec: object) {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: "team-a", labels: { app: name } },
    spec: {
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec },
    },
  };
}

test("alice rotates a key, is offered the restart of its consumers, restarts them and sees the results", async ({ page }) => {
  const name = await createSecret(page, "used", { password: "first-value", username: "app" }, "alice");
  const api = `${name}-api`;
  const files = `${name}-files`;
  const other = `${name}-user`;
  const list = {
    apiVersion: "v1",
    kind: "List",
    items: [
      // env: needs a restart after a rotation of password
      deployment(api, {
        containers: [{ name: "app", image: "busybox", env: [{ name: "DB_PASSWORD", valueFrom: { secretKeyRef: { name, key: "password" } } }] }],
      }),
      // files: restart only if the app does not reload them
      deployment(files, {
        containers: [{ name: "app", image: "busybox" }],
        volumes: [{ name: "creds", secret: { secretName: name } }],
      }),
      // uses only username, and a key the secret lacks
      deployment(other, {
        containers: [
          {
            name: "app",
            image: "busybox",
            env: [
              { name: "DB_USER", valueFrom: { secretKeyRef: { name, key: "username" } } },
              { name: "DB_HOST", valueFrom: { secretKeyRef: { name, key: "host" } } },
            ],
          },
        ],
      }),
    ],
  };
  kubectl(["apply", "-f", "-"], JSON.stringify(list));
  await page.reload();

  // Used by: all three, with their keys; the missing key is flagged.
  const panel = await openSection(page, "Used by");
  await expect(panel).toHaveAttribute("data-testid", "usage-panel");
  await expect(panel.getByRole("heading", { name: "Used by" })).toBeVisible();
  const row = (n: string) => panel.locator(`[data-testid=usage-row][data-name="${n}"]`);
  await expect(row(api)).toContainText("$DB_PASSWORD");
  await expect(row(files)).toContainText("all keys in volume creds");
  await expect(row(other).getByTestId("missing-key")).toBeVisible();
  await expect(panel.getByTestId("restart-offer")).toHaveCount(0);
  await expectAccessible(page, "used by");

  // Rotate the password.
  await openSection(page, "Change");
  const form = page.getByTestId("set-key-form");
  await form.locator("input[name=key]").fill("password");
  await form.locator("textarea[name=value]").fill("second-value");
  // Reviewed first: the masked diff says which keys change.
  await form.getByRole("button", { name: "Review change…" }).click();
  const preview = page.getByTestId("change-preview");
  await expect(preview.locator('li[data-key="password"]')).toHaveAttribute("data-change", "changed");
  await expect(preview.locator('li[data-key="username"]')).toHaveAttribute("data-change", "same");
  await expect(preview).not.toContainText("second-value");
  await expectAccessible(page, "change preview");
  await preview.getByRole("button", { name: "Confirm and save" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Saved" })).toBeVisible();
  // The changed key shows who changed it.
  await openSection(page, "Keys over time");
  await expect(page.getByTestId("key-states").locator('tr[data-key="password"]')).toContainText("changed");

  // The offer lists the env consumer (pre-selected) and the file consumer
  // (not), but not the one that uses only username.
  const offer = page.getByTestId("restart-offer");
  await expect(offer.getByRole("heading", { name: "Restart consumers of the changed keys" })).toBeVisible();
  const candidate = (n: string) => offer.locator(`[data-testid=restart-candidate][data-name="${n}"]`);
  await expect(candidate(api)).toContainText("needs a restart");
  await expect(candidate(api).getByRole("checkbox")).toBeChecked();
  await expect(candidate(files)).toContainText("restart if it does not reload files");
  await expect(candidate(files).getByRole("checkbox")).not.toBeChecked();
  await expect(candidate(other)).toHaveCount(0);
  await expect(offer.getByTestId("restart-kubectl")).toContainText(`kubectl rollout restart deployment/${api} -n team-a`);
  await expectAccessible(page, "restart offer");

  // Select the file consumer too (by keyboard), restart both.
  await candidate(files).getByRole("checkbox").focus();
  await page.keyboard.press("Space");
  await expect(candidate(files).getByRole("checkbox")).toBeChecked();
  await offer.getByTestId("restart-button").click();
  const result = (n: string) => offer.locator(`[data-testid=restart-result][data-name="${n}"]`);
  await expect(result(api)).toHaveAttribute("data-outcome", "done");
  await expect(result(files)).toHaveAttribute("data-outcome", "done");
  await expect(result(api)).toContainText("restartedAt");
  await expectAccessible(page, "restart results");

  // The pod templates carry kubectl's annotation, and the restart is in the history.
  const at = kubectl([
    "get", "deployment", api, "-n", "team-a",
    "-o", "jsonpath={.spec.template.metadata.annotations.kubectl\\.kubernetes\\.io/restartedAt}",
  ]);
  expect(at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$/);
  await page.reload();
  await openSection(page, "Access history");
  await expect(page.getByTestId("audit-table")).toContainText("restart");

  kubectl(["delete", "deployment", api, files, other, "-n", "team-a", "--wait=false"]);
});

import { test, expect } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSecret, expectAccessible, kubectl, openSection, signIn, waitForHydration } from "./helpers";

// Secrets that belong in Git (issue 16) in the browser: alice seals a new
// secret from the create form and the real sealed-secrets controller
// unseals it; she exports an existing one for SOPS and the real sops
// decrypts the download; the unsealed secret's page says the SealedSecret
// owns it and offers to re-seal instead of an edit.

function stackVar(name: string): string {
  const text = readFileSync(join(process.env.STRONGROOM_STACK_DIR!, "env"), "utf8");
  const line = text.split("\n").reverse().find((l) => l.replace(/^export /, "").startsWith(`${name}=`));
  if (!line) throw new Error(`no ${name} in the stack env`);
  return line.replace(/^export /, "").slice(name.length + 1).replace(/^['"]|['"]$/g, "");
}

async function unsealed(name: string): Promise<Record<string, string>> {
  for (let i = 0; i < 150; i++) {
    try {
      return JSON.parse(kubectl(["get", "secret", name, "-n", "team-a", "-o", "json"])).data;
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  throw new Error(`the controller did not unseal ${name}`);
}

test("alice seals a new secret for Git, the controller unseals it, and its page says who owns it", async ({ page }) => {
  const name = `sealed-${Date.now().toString(36)}`;
  await signIn(page, "alice", "/ns/team-a/new");
  await page.locator("input[name=name]").fill(name);
  const row = page.getByTestId("kv-row").first();
  await row.locator("input[name=key]").fill("api-token");
  await row.locator("textarea[name=value]").fill("t0ken-from-the-browser");
  await page.getByLabel("Seal it for Git (SealedSecret)").check();
  // The controller's certificate, fetched as alice.
  await expect(page.getByTestId("sealing-fingerprint")).toHaveText(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  await page.getByTestId("create-sealed").check();
  await page.getByTestId("create-submit").click();
  const yaml = page.getByTestId("sealed-yaml");
  await expect(yaml).toContainText('kind: "SealedSecret"');
  await expect(yaml).not.toContainText("t0ken-from-the-browser");
  await expect(page.getByTestId("sealed-yaml-note")).toContainText(`created as SealedSecret ${name}`);
  await expectAccessible(page, "create form, sealed");

  const data = await unsealed(name);
  expect(Buffer.from(data["api-token"], "base64").toString()).toBe("t0ken-from-the-browser");

  await page.goto(`/ns/team-a/secrets/${name}`);
  await expect(page.getByTestId("owner-badge")).toHaveText(`Managed by SealedSecret ${name}`);
  // A SealedSecret writes it: the Git section opens with the page.
  await expect(page.getByTestId("git-panel")).toHaveAttribute("open", "");
  await openSection(page, "Change");
  await expect(page.getByTestId("change-owner-warning")).toContainText("so an edit made here is reverted");
  await page.getByTestId("show-source").click();
  await expect(page.getByTestId("source-facts")).toContainText("strict");
  await expect(page.getByTestId("source-facts")).toContainText("api-token");
  // Re-seal instead of editing: the Git panel is open on the page.
  await page.getByTestId("reseal-link").click();
  await expect(page.getByTestId("git-panel")).toHaveAttribute("open", "");
  await page.getByTestId("seal-submit").click();
  await expect(page.getByTestId("sealed-yaml")).toContainText("api-token");
  await expectAccessible(page, "sealed secret's page");

  // The list row says so too.
  await page.goto("/ns/team-a");
  // The filter reacts once the page has hydrated.
  await waitForHydration(page);
  await page.getByTestId("filter").fill(name);
  await expect(page.getByTestId("owner").first()).toHaveText(`SealedSecret ${name}`);
});

test("alice exports an existing secret for SOPS and the real sops decrypts the download", async ({ page }) => {
  const name = await createSecret(page, "sops", { password: "exported-value" }, "alice");
  const tools = stackVar("GITOPS_TOOLS");
  const dir = mkdtempSync(join(tmpdir(), "sops-e2e-"));
  const identity = join(dir, "key.txt");
  execFileSync(join(tools, "age-keygen"), ["-o", identity]);
  const recipient = execFileSync(join(tools, "age-keygen"), ["-y", identity], { encoding: "utf8" }).trim();

  const panel = page.getByTestId("git-panel");
  await panel.locator("summary").click();
  await page.getByTestId("sops-recipients").fill("age1-not-a-recipient");
  await page.getByTestId("sops-submit").click();
  await expect(panel.getByRole("alert").or(panel.locator(".panel.error"))).toContainText("not an age recipient");

  await page.getByTestId("sops-recipients").fill(recipient);
  await page.getByTestId("sops-submit").click();
  await expect(page.getByTestId("sops-yaml")).toContainText("ENC[AES256_GCM");
  await expect(page.getByTestId("sops-yaml")).not.toContainText("exported-value");
  const download = page.waitForEvent("download");
  await panel.getByRole("link", { name: "Download" }).last().click();
  const file = join(dir, "secret.sops.yaml");
  await (await download).saveAs(file);
  const plain = JSON.parse(
    execFileSync(join(tools, "sops"), ["--decrypt", "--input-type", "yaml", "--output-type", "json", file], {
      env: { ...process.env, SOPS_AGE_KEY_FILE: identity },
      encoding: "utf8",
    }),
  );
  expect(Buffer.from(plain.data.password, "base64").toString()).toBe("exported-value");
  expect(plain.metadata.name).toBe(name);
  await expectAccessible(page, "SOPS export");

  // The export is in the secret's access history.
  await openSection(page, "Access history");
  await expect(page.getByTestId("audit-table").last()).toContainText("export");
});

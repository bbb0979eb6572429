import { test, expect, type Page } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { openSection, signIn } from "../tests/helpers";

// The README's pictures of the main pages, light and dark, from fixed data:
// team-a holds only the demo secrets below, the audit store is fresh
// (scripts/screenshots), and what differs from run to run by nature (times,
// resource versions) is masked. An unchanged page gives an unchanged file.
const dir = path.resolve(__dirname, "../../docs/screenshots");

/** The admin's kubectl of the test stack, for fixed set-up data. */
function kubectl(...args: string[]) {
  const env = readFileSync(path.join(process.env.STRONGROOM_STACK_DIR!, "env"), "utf8");
  const value = (name: string) => env.match(new RegExp(`^export ${name}='(.*)'$`, "m"))![1];
  return execFileSync(value("KUBECTL"), ["--kubeconfig", value("ADMIN_KUBECONFIG"), ...args], {
    encoding: "utf8",
  });
}

async function shoot(page: Page, name: string) {
  for (const scheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme: scheme, reducedMotion: "reduce" });
    await page.waitForTimeout(150);
    await page.screenshot({
      path: path.join(dir, `${name}-${scheme}.png`),
      fullPage: true,
      animations: "disabled",
      caret: "hide",
      mask: [page.locator("time"), page.getByTestId("resource-version")],
      maskColor: "#9aa0a6",
    });
  }
}

test("screenshots of the main pages", async ({ page }) => {
  // Twelve full-page pictures, and a team-a emptied of earlier test data.
  test.setTimeout(600_000);
  // Fixed data: team-a holds exactly these secrets (the SealedSecrets and
  // ExternalSecrets of earlier runs first, or their secrets come back).
  kubectl("delete", "sealedsecrets,externalsecrets", "--all", "-n", "team-a", "--wait=true");
  kubectl("delete", "secrets", "--all", "-n", "team-a", "--wait=true");
  kubectl("create", "secret", "generic", "database-credentials", "-n", "team-a",
    "--from-literal=username=app", "--from-literal=password=correct-horse-battery");
  kubectl("label", "secret", "database-credentials", "-n", "team-a", "app=orders");
  kubectl("create", "secret", "docker-registry", "registry-pull", "-n", "team-a",
    "--docker-server=registry.example.com", "--docker-username=ci", "--docker-password=example");
  kubectl("create", "secret", "generic", "webhook-signing-key", "-n", "team-a",
    "--from-literal=key=whsec_example");

  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto("/");
  await expect(page.locator("input[name=login]")).toBeVisible();
  await shoot(page, "sign-in");

  const name = "payments-api";
  await signIn(page, "alice", "/ns/team-a/new");
  await page.locator("input[name=name]").fill(name);
  await page.getByTestId("template").selectOption("aws");
  const rows = page.getByTestId("kv-row");
  await rows.nth(0).locator("textarea[name=value]").fill("AKIAIOSFODNN7EXAMPLE");
  await rows.nth(1).locator("textarea[name=value]").fill("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
  await page.locator("textarea[name=labels]").fill("app=payments\ntier=backend");
  await shoot(page, "create-form");
  await page.getByTestId("create-submit").click();
  await expect(page.getByTestId("secret-name")).toHaveText(name);

  await page.goto("/");
  await expect(page.getByTestId("namespace-list")).toBeVisible();
  await shoot(page, "namespaces");

  await page.goto("/ns/team-a");
  await expect(page.getByTestId("secret-table")).toBeVisible();
  await shoot(page, "secret-list");

  await page.goto(`/ns/team-a/secrets/${name}`);
  await page.locator('tr[data-key="AWS_SECRET_ACCESS_KEY"]').getByTestId("reveal").click();
  await expect(page.getByTestId("revealed-value")).toBeVisible();
  await shoot(page, "secret-detail");

  const dave = await page.context().browser()!.newPage();
  await dave.setViewportSize({ width: 1280, height: 800 });
  await signIn(dave, "dave", "/audit");
  await expect(dave.getByTestId("audit-table")).toBeVisible();
  await shoot(dave, "audit");
});

/** The admin's kubectl with `input` on stdin (`apply -f -`). */
function kubectlApply(object: unknown) {
  const env = readFileSync(path.join(process.env.STRONGROOM_STACK_DIR!, "env"), "utf8");
  const value = (name: string) => env.match(new RegExp(`^export ${name}='(.*)'$`, "m"))![1];
  execFileSync(value("KUBECTL"), ["--kubeconfig", value("ADMIN_KUBECONFIG"), "apply", "-f", "-"], {
    input: JSON.stringify(object),
    encoding: "utf8",
  });
}

/** A picture of one part of a page, light and dark, with what differs from
 * run to run (times, serials, fingerprints) masked. */
async function shootPart(page: Page, part: ReturnType<Page["locator"]>, name: string) {
  for (const scheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme: scheme, reducedMotion: "reduce" });
    await page.waitForTimeout(150);
    await part.screenshot({
      path: path.join(dir, `${name}-${scheme}.png`),
      animations: "disabled",
      caret: "hide",
      mask: [
        page.locator("time"),
        page.getByTestId("resource-version"),
        page.getByTestId("cert-serial"),
        page.getByTestId("cert-fingerprint"),
      ],
      maskColor: "#9aa0a6",
    });
  }
}

test("screenshots of the life of a secret", async ({ page }) => {
  test.setTimeout(300_000);
  // A Deployment that reads database-credentials' password as an
  // environment variable and mounts the whole secret.
  kubectl("delete", "deployment", "orders", "-n", "team-a", "--ignore-not-found", "--wait=true");
  kubectlApply({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "orders", namespace: "team-a" },
    spec: {
      selector: { matchLabels: { app: "orders" } },
      template: {
        metadata: { labels: { app: "orders" } },
        spec: {
          containers: [{
            name: "app",
            image: "registry.example.com/orders:1.4.2",
            env: [{ name: "DB_PASSWORD", valueFrom: { secretKeyRef: { name: "database-credentials", key: "password" } } }],
            volumeMounts: [{ name: "db", mountPath: "/etc/db" }],
          }],
          volumes: [{ name: "db", secret: { secretName: "database-credentials" } }],
        },
      },
    },
  });
  // A TLS certificate that expires in 20 days.
  const tmp = execFileSync("mktemp", ["-d"], { encoding: "utf8" }).trim();
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "20",
    "-subj", "/O=Example Orders/CN=orders.example.com",
    "-addext", "subjectAltName=DNS:orders.example.com,DNS:api.orders.example.com",
    "-keyout", path.join(tmp, "tls.key"), "-out", path.join(tmp, "tls.crt"),
  ], { stdio: "ignore" });
  kubectl("delete", "secret", "orders-tls", "-n", "team-a", "--ignore-not-found");
  kubectl("create", "secret", "tls", "orders-tls", "-n", "team-a",
    `--cert=${path.join(tmp, "tls.crt")}`, `--key=${path.join(tmp, "tls.key")}`);

  await page.setViewportSize({ width: 1280, height: 800 });
  await signIn(page, "alice", "/ns/team-a/secrets/orders-tls");
  const certs = page.getByTestId("certificates");
  await expect(certs.getByTestId("certificate")).toHaveCount(1);
  await shootPart(page, certs, "certificate");

  await page.goto("/ns/team-a/secrets/database-credentials");
  await page.locator('tr[data-key="password"]').getByTestId("reveal").click();
  await expect(page.getByTestId("revealed-value")).toBeVisible();
  await page.getByTestId("hide-all").click();
  await openSection(page, "Used by");
  await openSection(page, "Keys over time");
  await openSection(page, "Change");
  const form = page.getByTestId("set-key-form");
  await form.locator("input[name=key]").fill("password");
  await form.locator("textarea[name=value]").fill("staple-horse-battery-correct");
  await form.getByRole("button", { name: "Review change…" }).click();
  await expect(page.getByTestId("change-preview")).toBeVisible();
  await shootPart(page, form, "rotate-review");
  await page.getByTestId("change-preview").getByRole("button", { name: "Confirm and save" }).click();
  const offer = page.getByTestId("restart-offer");
  await expect(offer).toBeVisible();
  await offer.getByTestId("restart-button").click();
  await expect(offer.getByTestId("restart-result").first()).toHaveAttribute("data-outcome", "done");
  await shootPart(page, page.getByTestId("usage-panel"), "restart");
  const states = page.getByTestId("key-states");
  await expect(states.locator('tr[data-key="password"]')).toContainText("changed since");
  await shootPart(page, states, "key-history");
});

test("screenshots of secrets that belong in Git", async ({ page }) => {
  test.setTimeout(300_000);
  // Fixed data: a SealedSecret billing-api made through the form below.
  kubectl("delete", "sealedsecret", "billing-api", "-n", "team-a", "--ignore-not-found", "--wait=true");
  kubectl("delete", "secret", "billing-api", "-n", "team-a", "--ignore-not-found", "--wait=true");
  await page.setViewportSize({ width: 1280, height: 800 });
  await signIn(page, "alice", "/ns/team-a/new");
  await page.locator("input[name=name]").fill("billing-api");
  const row = page.getByTestId("kv-row").first();
  await row.locator("input[name=key]").fill("STRIPE_API_KEY");
  await row.locator("textarea[name=value]").fill("sk_live_example_value");
  await page.getByLabel("Seal it for Git (SealedSecret)").check();
  await expect(page.getByTestId("sealing-fingerprint")).toBeVisible();
  await page.getByTestId("create-sealed").check();
  const form = page.getByTestId("create-form");
  for (const scheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme: scheme, reducedMotion: "reduce" });
    await page.waitForTimeout(150);
    await form.screenshot({
      path: path.join(dir, `seal-form-${scheme}.png`),
      animations: "disabled",
      caret: "hide",
      // The stack's sealing key is made afresh with each stack.
      mask: [page.getByTestId("sealing-fingerprint"), page.getByTestId("sealing-valid-until")],
      maskColor: "#9aa0a6",
    });
  }
  await page.emulateMedia({ colorScheme: "light" });
  await page.getByTestId("create-submit").click();
  await expect(page.getByTestId("sealed-yaml")).toBeVisible();
  // Wait for the controller to unseal it, then show the secret's page.
  for (let i = 0; i < 150; i++) {
    try {
      kubectl("get", "secret", "billing-api", "-n", "team-a");
      break;
    } catch {
      await page.waitForTimeout(200);
    }
  }
  await page.goto("/ns/team-a/secrets/billing-api");
  await page.getByTestId("show-source").click();
  await expect(page.getByTestId("source-facts")).toBeVisible();
  await shootPart(page, page.getByTestId("owner-note"), "sealed-owner");
  // A SOPS export of its values for an age recipient (a fixed public key).
  const panel = page.getByTestId("git-panel");
  await page.getByTestId("sops-recipients").fill("age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p");
  await page.getByTestId("sops-submit").click();
  await expect(page.getByTestId("sops-yaml")).toBeVisible();
  // Ciphertext, IVs, the wrapped data key and the date differ with every
  // export: the picture shows them shortened, the structure as it is.
  await page.getByTestId("sops-yaml").evaluate((pre) => {
    pre.textContent = (pre.textContent ?? "")
      .replace(/data:[^,]*,iv:[^,]*,tag:[^,]*,/g, "data:…,iv:…,tag:…,")
      .replace(/-----BEGIN AGE ENCRYPTED FILE-----[^"]*-----END AGE ENCRYPTED FILE-----/g, "-----BEGIN AGE ENCRYPTED FILE-----\\n…\\n-----END AGE ENCRYPTED FILE-----")
      .replace(/lastmodified: "[^"]*"/, 'lastmodified: "…"');
  });
  for (const scheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme: scheme, reducedMotion: "reduce" });
    await page.waitForTimeout(150);
    await panel.screenshot({
      path: path.join(dir, `sops-export-${scheme}.png`),
      animations: "disabled",
      caret: "hide",
      mask: [page.getByTestId("sealing-fingerprint"), page.getByTestId("sealing-valid-until")],
      maskColor: "#9aa0a6",
    });
  }
});

test("screenshot of an approval in a guarded namespace", async ({ browser }) => {
  // payments holds exactly this secret; alice asks, grace's page is shot.
  kubectl("delete", "secrets", "--all", "-n", "payments", "--wait=true");
  kubectl("create", "secret", "generic", "card-processor", "-n", "payments",
    "--from-literal=api-key=pk_live_example", "--from-literal=merchant-id=acme-42");
  const alice = await (await browser.newContext()).newPage();
  await alice.setViewportSize({ width: 1280, height: 800 });
  await signIn(alice, "alice", "/ns/payments/secrets/card-processor");
  await alice.locator('tr[data-key="api-key"]').getByTestId("reveal").click();
  const form = alice.getByTestId("request-access");
  await form.locator("textarea[name=request-reason]").fill("Rotating the card processor key (CHG-2211)");
  await form.getByTestId("send-request").click();
  await expect(alice.getByTestId("my-requests")).toContainText("pending");

  const grace = await (await browser.newContext()).newPage();
  await grace.setViewportSize({ width: 1280, height: 800 });
  await signIn(grace, "grace", "/approvals");
  const row = grace.getByTestId("to-decide").locator("li", { hasText: "card-processor" });
  await row.locator("input[name=comment]").fill("OK for CHG-2211");
  // Only the newest request: older runs' decisions are not part of the picture.
  await shoot(grace, "approvals");
  await row.getByTestId("approve").click();
  await expect(grace.getByTestId("decided").locator("li", { hasText: "card-processor" }).first()).toContainText("approved");
});

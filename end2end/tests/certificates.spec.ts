import { test, expect, type Page } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expectAccessible, openSection, signIn, waitForHydration } from "./helpers";

// Certificates in secrets: the secret page's certificate view, the list's
// badges and the namespace's expiring view. Certificates are made with
// openssl (`openssl ca -startdate/-enddate` sets any dates).

/** A throwaway PKI: a root, an intermediate, and leaves with any dates. */
function pki() {
  const dir = mkdtempSync(join(tmpdir(), "strongroom-pki-"));
  mkdirSync(join(dir, "new"));
  writeFileSync(join(dir, "index.txt"), "");
  writeFileSync(
    join(dir, "ca.cnf"),
    "[ ca ]\ndefault_ca = test\n[ test ]\ndir = .\ndatabase = ./index.txt\nnew_certs_dir = ./new\nserial = ./serial\n" +
      "default_md = sha256\npolicy = any\ncopy_extensions = copy\nunique_subject = no\n[ any ]\norganizationName = optional\ncommonName = supplied\n",
  );
  const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  const stamp = (d: Date) => d.toISOString().replace(/[-:T]/g, "").slice(0, 14) + "Z";
  const day = 86_400_000;
  const sign = (name: string, subject: string, ext: string, issuer: string, start: Date, end: Date) => {
    openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subject, "-addext", ext);
    openssl("ca", "-batch", "-config", "ca.cnf", "-rand_serial", "-notext", "-cert", `${issuer}.pem`, "-keyfile", `${issuer}.key`,
      "-in", `${name}.csr`, "-out", `${name}.pem`, "-startdate", stamp(start), "-enddate", stamp(end));
  };
  openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "root.key", "-out", "root.pem", "-days", "3650",
    "-subj", "/O=Strongroom Test/CN=Test Root", "-addext", "basicConstraints=critical,CA:TRUE");
  const now = Date.now();
  sign("inter", "/O=Strongroom Test/CN=Test Intermediate", "basicConstraints=critical,CA:TRUE", "root", new Date(now - day), new Date(now + 1000 * day));
  const read = (file: string) => readFileSync(join(dir, file), "utf8");
  return {
    inter: () => read("inter.pem"),
    /** A leaf for `host` ending `days` from now: its PEM and key. */
    leaf(host: string, days: number) {
      const end = new Date(now + days * day);
      const start = new Date(Math.min(end.getTime(), now) - 30 * day);
      sign(host, `/O=Strongroom Test/CN=${host}`, `subjectAltName=DNS:${host},IP:10.1.2.3`, "inter", start, end);
      return { cert: read(`${host}.pem`), key: read(`${host}.key`) };
    },
  };
}

/** Creates a TLS secret in team-a through the API, as the signed-in user. */
async function createTls(page: Page, name: string, cert: string, key: string) {
  const r = await page.request.post("/api/v1/namespaces/team-a/secrets", {
    headers: { "x-strongroom-csrf": "1" },
    data: { name, input: { kind: "tls", cert, key } },
  });
  expect(r.status(), await r.text()).toBe(201);
}

const stamp = () => `${Date.now().toString(36)}${Math.floor(Math.random() * 1000)}`;

test("alice sees a TLS secret's chain, dates and key match, never its private key", async ({ page }) => {
  const ca = pki();
  const name = `cert-${stamp()}`;
  const { cert, key } = ca.leaf("shop.example.com", 10);
  await signIn(page, "alice", "/ns/team-a");
  await createTls(page, name, cert + ca.inter(), key);

  await page.goto(`/ns/team-a/secrets/${name}`);
  const panel = page.getByTestId("certificates");
  await expect(panel).toBeVisible();
  const crt = panel.locator('[data-testid=cert-key][data-key="tls.crt"]');
  await expect(crt.getByTestId("certificate")).toHaveCount(2);
  const leaf = crt.getByTestId("certificate").nth(0);
  await expect(leaf.getByTestId("cert-subject")).toHaveText("O=Strongroom Test, CN=shop.example.com");
  await expect(leaf.getByTestId("cert-sans")).toContainText("DNS:shop.example.com");
  await expect(leaf.getByTestId("cert-sans")).toContainText("IP:10.1.2.3");
  await expect(leaf.getByTestId("cert-status")).toHaveText(/expires in (9|10) days/);
  await expect(crt.getByTestId("certificate").nth(1).getByTestId("cert-subject")).toHaveText("O=Strongroom Test, CN=Test Intermediate");
  await expect(crt.getByTestId("key-match")).toHaveAttribute("data-matches", "true");
  await expect(page.locator("body")).not.toContainText("PRIVATE KEY");
  const keyLine = key.split("\n")[1];
  await expect(page.locator("body")).not.toContainText(keyLine);
  await expectAccessible(page, "certificate panel");

  // The inspection is in the secret's access history.
  await page.reload();
  await expect(page.getByTestId("certificates").getByTestId("certificate")).toHaveCount(2);
  await openSection(page, "Access history");
  await expect(page.getByTestId("audit-table")).toContainText("inspect");
});

test("the list marks expiring and expired certificates and the namespace view lists them", async ({ page }) => {
  const ca = pki();
  const prefix = `exp-${stamp()}`;
  const [past, soon, later] = [`${prefix}-past`, `${prefix}-soon`, `${prefix}-later`];
  await signIn(page, "alice", "/ns/team-a");
  for (const [name, host, days] of [[past, "past.example.com", -1], [soon, "soon.example.com", 10], [later, "later.example.com", 365]] as const) {
    const { cert, key } = ca.leaf(host, days);
    await createTls(page, name, cert, key);
  }

  await page.goto("/ns/team-a");
  // The filter reacts once the page has hydrated.
  await waitForHydration(page);
  await page.getByTestId("filter").fill(prefix);
  const table = page.getByTestId("secret-table");
  await expect(table.locator(`tr[data-secret="${past}"]`).getByTestId("cert-status")).toHaveText("expired");
  await expect(table.locator(`tr[data-secret="${soon}"]`).getByTestId("cert-status")).toHaveText(/expires in (9|10) days/);
  await expect(table.locator(`tr[data-secret="${later}"]`).getByTestId("cert-status")).toHaveCount(0);
  await expectAccessible(page, "list with certificate badges");

  // The namespace's expiring view, reached from the list by keyboard.
  await page.getByTestId("expiring-link").focus();
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/\/ns\/team-a\/certificates$/);
  const expiring = page.getByTestId("expiring-table");
  await expect(expiring.locator(`tr[data-secret="${past}"]`).getByTestId("cert-status")).toHaveText("expired");
  await expect(expiring.locator(`tr[data-secret="${soon}"]`)).toContainText("CN=soon.example.com");
  await expect(expiring.locator(`tr[data-secret="${later}"]`)).toHaveCount(0);
  // Soonest first: the expired one comes before the expiring one.
  const rows = await expiring.locator("tbody tr").evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-secret")));
  expect(rows.indexOf(past)).toBeLessThan(rows.indexOf(soon));
  await expectAccessible(page, "expiring certificates");

  // A wider window takes in the one-year certificate.
  await page.getByTestId("within").selectOption("365");
  await expect(expiring.locator(`tr[data-secret="${later}"]`).getByTestId("cert-status")).toHaveText(/expires in/);
  await expiring.getByRole("link", { name: soon }).click();
  await expect(page.getByTestId("secret-name")).toHaveText(soon);
});

test("carol, who may list but not read team-a's secrets, sees no certificate data", async ({ page }) => {
  await signIn(page, "carol", "/ns/team-a/certificates");
  await expect(page.getByRole("heading", { name: "Not allowed" })).toBeVisible();
  await expect(page.getByTestId("expiring-table")).toHaveCount(0);
  await page.goto("/ns/team-a");
  await expect(page.getByTestId("secret-table")).toBeVisible();
  await expect(page.getByTestId("expiring-link")).toHaveCount(0);
  await expect(page.getByTestId("cert-status")).toHaveCount(0);
});

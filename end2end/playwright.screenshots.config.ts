import { defineConfig } from "@playwright/test";
import base from "./playwright.config";

// The README's screenshots, taken by scripts/screenshots only (never by
// scripts/test, so test runs do not rewrite committed images).
export default defineConfig({
  ...base,
  testDir: "./screenshots",
});

// Translations: the language follows the browser until the user picks one, which is remembered.
// Static text is marked in the HTML (data-i18n, data-i18n-placeholder, data-i18n-label);
// dynamic text calls t() and re-renders on the "languagechange" event of this module.
import en from "./locales/en.js";
import zhCN from "./locales/zh-CN.js";
import { storage } from "./storage.js";

export const LOCALES = { en, "zh-CN": zhCN };
const KEY = "language";
let current = "en";
const listeners = new Set();

/** The locale for a list of browser languages: any Chinese variant maps to zh-CN. */
export function pickLocale(languages) {
  for (const language of languages ?? []) {
    const lower = String(language).toLowerCase();
    if (lower.startsWith("zh")) return "zh-CN";
    if (lower.startsWith("en")) return "en";
  }
  return "en";
}

export function currentLocale() {
  return current;
}

/** Translate ``key`` and fill its {placeholders}; a missing key falls back to English, then the key. */
export function t(key, values = {}) {
  const template = LOCALES[current][key] ?? en[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (match, name) => (name in values ? String(values[name]) : match));
}

/** ``key`` translated when the locales have it, else ``fallback`` (text that comes from the server's data). */
export function tOr(key, fallback) {
  return key in en ? t(key) : fallback;
}

export function applyStatic(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll("[data-i18n-label]")) {
    const text = t(el.dataset.i18nLabel);
    el.setAttribute("aria-label", text);
    if (el.hasAttribute("title")) el.title = text;
  }
}

export function setLocale(locale, { remember = true } = {}) {
  current = locale in LOCALES ? locale : "en";
  if (remember) storage.set(KEY, current);
  document.documentElement.lang = current;
  applyStatic();
  for (const listener of listeners) listener(current);
}

export function onLocaleChange(listener) {
  listeners.add(listener);
}

/** The remembered choice, else the browser's languages. */
export function initialLocale() {
  return storage.get(KEY) ?? pickLocale(navigator.languages?.length ? navigator.languages : [navigator.language]);
}

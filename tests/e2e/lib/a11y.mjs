// Accessibility checks for the browser tests: axe-core in the page, in light and dark colour
// schemes; no sideways scrolling from 320 to 1920 px; no animation when reduced motion is asked
// for; the visible focus of the focused element; what live regions announce.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export const WIDTHS = [320, 390, 768, 1280, 1920];
export const HEIGHT = 800;

/**
 * Gives every document of `context` axe-core and an announcement recorder, before the page's
 * own scripts. The page's CSP (`script-src 'self'`) refuses an injected inline <script>
 * (`page.addScriptTag`), and the product's policy must stay exactly as shipped and enforced:
 * Playwright's init scripts are handed to the browser through the DevTools protocol, which the
 * page's CSP does not govern, so neither the policy nor the context (no `bypassCSP`) is changed.
 *
 * The recorder keeps the text of a live region (role=status, role=alert, aria-live) each time
 * its content changes while it is in the document: what a screen reader announces. A region
 * inserted together with its text is not counted (screen readers often miss those).
 */
export async function instrument(context) {
  await context.addInitScript({ content: AXE_SOURCE });
  await context.addInitScript(() => {
    window.__announced = [];
    const LIVE = '[role=status], [role=alert], [role=log], [aria-live]:not([aria-live=off])';
    const start = () => {
      new MutationObserver((records) => {
        const regions = new Set();
        for (const r of records) {
          const node = r.target.nodeType === Node.ELEMENT_NODE ? r.target : r.target.parentElement;
          const region = node?.closest(LIVE);
          if (region) regions.add(region);
        }
        for (const region of regions) {
          const text = region.textContent.replace(/\s+/g, ' ').trim();
          if (text) window.__announced.push(text);
        }
      }).observe(document, { subtree: true, childList: true, characterData: true });
    };
    if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
    else start();
  });
}

/** What live regions announced since the page loaded (or since the last `clearAnnounced`). */
export const announced = (page) => page.evaluate(() => window.__announced.slice());
export const clearAnnounced = (page) => page.evaluate(() => { window.__announced = []; });

/** axe-core's violations on the page as it stands, one readable line per rule. */
async function axeViolations(page) {
  return page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => `${v.id} (${v.impact}): ${v.help}\n${v.nodes.slice(0, 6)
      .map((n) => `      ${n.target.join(' ')}: ${n.failureSummary.replace(/\s+/g, ' ')}`).join('\n')}`);
  });
}

/** How far the page scrolls sideways at `width`, and the widest elements when it does. */
async function overflowAt(page, width) {
  await page.setViewportSize({ width, height: HEIGHT });
  return page.evaluate(() => {
    const over = document.documentElement.scrollWidth - window.innerWidth;
    if (over <= 0) return null;
    const clipped = (e) => {
      for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
        if (getComputedStyle(a).overflowX !== 'visible') return true;
      }
      return false;
    };
    // Where the overflow starts: a wide element whose parent fits, outside any scrolling box.
    const sticksOut = (e) => e && e.getBoundingClientRect().right > window.innerWidth + 0.5;
    const wide = [...document.querySelectorAll('body *')]
      .filter((e) => sticksOut(e) && !sticksOut(e.parentElement) && !clipped(e))
      .map((e) => `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''}${e.className && typeof e.className === 'string' ? `.${e.className.trim().split(/\s+/).join('.')}` : ''} (${Math.round(e.getBoundingClientRect().width)}px)`);
    // Or text wider than the box it is in (a long word that cannot wrap).
    const spill = [...document.querySelectorAll('body *')]
      .filter((e) => !sticksOut(e) && !clipped(e) && getComputedStyle(e).overflowX === 'visible'
        && e.getBoundingClientRect().left + e.scrollWidth > window.innerWidth + 0.5)
      .map((e) => `text in ${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''}: "${e.textContent.trim().slice(0, 50)}"`);
    return `${over}px: ${[...wide, ...spill.slice(-3)].slice(0, 8).join(', ')}`;
  });
}

/** With reduced motion asked for: running animations, and elements with a transition. */
async function motion(page) {
  return page.evaluate(() => {
    const moving = document.getAnimations().map((a) => `${a.constructor.name} on ${a.effect?.target?.tagName}`);
    // Chromium paints an indeterminate <progress> moving by itself unless its appearance is none.
    for (const p of document.querySelectorAll('progress:indeterminate')) {
      if (getComputedStyle(p).appearance !== 'none') moving.push(`indeterminate progress#${p.id} moves`);
    }
    for (const e of document.querySelectorAll('*')) {
      const s = getComputedStyle(e);
      const secs = (v) => Math.max(...v.split(',').map((x) => parseFloat(x) || 0));
      if (secs(s.transitionDuration) > 0) moving.push(`transition on ${e.tagName}#${e.id}`);
      if (s.animationName !== 'none' && secs(s.animationDuration) > 0) moving.push(`animation on ${e.tagName}#${e.id}`);
    }
    return moving;
  });
}

/**
 * Audits the screen as it stands: axe in light and dark, sideways overflow at every width,
 * and motion under `prefers-reduced-motion: reduce`. Appends what is wrong to `problems`
 * (so one run names every problem) and returns the seconds it took.
 */
export async function audit(page, screen, problems, { widths = WIDTHS } = {}) {
  const t = Date.now();
  const viewport = page.viewportSize();
  for (const colorScheme of ['light', 'dark']) {
    await page.emulateMedia({ colorScheme, reducedMotion: 'no-preference' });
    const dark = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const isDark = /rgb\((\d+), (\d+), (\d+)\)/.exec(dark).slice(1).every((c) => Number(c) < 60);
    if (isDark !== (colorScheme === 'dark')) problems.push(`${screen} [${colorScheme}]: the body's background is ${dark}`);
    for (const v of await axeViolations(page)) problems.push(`${screen} [${colorScheme}]: ${v}`);
  }
  await page.emulateMedia({ colorScheme: 'light', reducedMotion: 'reduce' });
  for (const m of await motion(page)) problems.push(`${screen} [reduced motion]: ${m}`);
  await page.emulateMedia({ colorScheme: 'light', reducedMotion: 'no-preference' });
  for (const width of widths) {
    const over = await overflowAt(page, width);
    if (over) problems.push(`${screen} [${width}px]: scrolls sideways by ${over}`);
  }
  await page.setViewportSize(viewport ?? { width: 1280, height: HEIGHT });
  return (Date.now() - t) / 1000;
}

/**
 * The focused element, described, and whether its focus is visible: an outline of at least
 * 2 px (or a box shadow) that differs from how it looks unfocused is what `:focus-visible`
 * gives every control here.
 */
export async function focused(page) {
  return page.evaluate(() => {
    const e = document.activeElement;
    if (!e || e === document.body) return { id: null, tag: 'body', visible: false };
    const s = getComputedStyle(e);
    const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2;
    const visible = outline || (s.boxShadow !== 'none' && e.matches(':focus-visible'));
    const label = e.getAttribute('aria-label') ?? e.labels?.[0]?.textContent ?? e.textContent;
    return { id: e.id || null, tag: e.tagName.toLowerCase(), type: e.type ?? null, visible, label: label?.replace(/\s+/g, ' ').trim().slice(0, 60) };
  });
}

/**
 * Presses Tab (or Shift+Tab) until the element matching `selector` has the focus; every
 * element on the way must show its focus. Returns the number of presses.
 */
export async function tabTo(page, selector, problems, { back = false, max = 150 } = {}) {
  for (let i = 1; i <= max; i++) {
    await page.keyboard.press(back ? 'Shift+Tab' : 'Tab');
    const f = await focused(page);
    if (f.tag !== 'body' && !f.visible) problems.push(`focus not visible on ${f.tag}${f.id ? `#${f.id}` : ''} "${f.label}"`);
    if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return i;
  }
  throw new Error(`${selector} not reached with ${max} presses of ${back ? 'Shift+Tab' : 'Tab'}`);
}

/**
 * Tabs through the whole page once, from the top until the focus comes round again; every
 * stop must show its focus. Returns how many stops there were.
 */
export async function sweep(page, screen, problems, { max = 400 } = {}) {
  // Start above everything: the banner, focusable for the moment.
  await page.evaluate(() => {
    const top = document.querySelector('body > header') ?? document.body.firstElementChild;
    top.tabIndex = -1;
    top.focus();
  });
  const seen = new Set();
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const key = await page.evaluate(() => {
      const e = document.activeElement;
      if (!e || e === document.body) return null;
      e.dataset.sweep ??= String(Math.random());
      return e.dataset.sweep;
    });
    if (key === null || seen.has(key)) break;
    seen.add(key);
    const f = await focused(page);
    if (!f.visible) problems.push(`${screen}: focus not visible on ${f.tag}${f.id ? `#${f.id}` : ''} "${f.label}"`);
  }
  await page.evaluate(() => {
    document.querySelectorAll('[data-sweep]').forEach((e) => delete e.dataset.sweep);
    (document.querySelector('body > header') ?? document.body.firstElementChild).removeAttribute('tabindex');
  });
  return seen.size;
}

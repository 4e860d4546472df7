import fs from 'fs';
import { Browser, chromium, Page } from 'playwright-core';

// Debian's chromium, driven by playwright-core (which downloads no browser of its own). Used by the
// board test and by scripts/board-screenshot.ts.

export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Launches headless Chromium; fails, never skips, when it is not installed. */
export async function launchChromium(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM_PATH)) {
    throw new Error(`${CHROMIUM_PATH} is missing: the board test drives Debian's chromium (apt-get install chromium); playwright-core downloads no browser`);
  }
  try {
    return await chromium.launch({
      executablePath: CHROMIUM_PATH,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  } catch (error) {
    throw new Error(`could not start ${CHROMIUM_PATH}: ${(error as Error).message}`);
  }
}

/** What the board's status badge says: `live` once every game's room is joined. */
export function boardStatus(page: Page): Promise<string | null> {
  return page.locator('#status').textContent();
}

/** Waits until the board's status badge says `state` (or, with `not`, anything else). */
export async function waitForStatus(page: Page, state: string, timeout: number, not = false): Promise<void> {
  try {
    await page.waitForFunction(
      ([wanted, negate]) => {
        const shown = (globalThis as any).document.getElementById('status')?.textContent;
        return negate ? shown !== wanted : shown === wanted;
      },
      [state, not] as const,
      { timeout },
    );
  } catch (error) {
    throw new Error(`the board's status stayed "${await boardStatus(page)}" for ${timeout} ms (waiting for ${not ? 'anything but ' : ''}"${state}")`);
  }
}

/** The units the cell of `slotId` shows, or null when there is no such cell. */
export async function unitsShown(page: Page, slotId: number): Promise<string | null> {
  const cell = page.locator(`td[data-slot-id="${slotId}"] .left`);
  return (await cell.count()) ? cell.textContent() : null;
}

/** Waits until the cell of `slotId` shows `units` left; fails after `timeout` naming what it showed. */
export async function waitForUnits(page: Page, slotId: number, units: number, timeout: number): Promise<void> {
  try {
    await page.waitForFunction(
      ([slot, wanted]) => (globalThis as any).document.querySelector(`td[data-slot-id="${slot}"] .left`)?.textContent === String(wanted),
      [slotId, units] as const,
      { timeout, polling: 50 },
    );
  } catch {
    throw new Error(`slot ${slotId} still showed ${await unitsShown(page, slotId)} units after ${timeout} ms, not ${units}`);
  }
}

/** The first class of the cell of `slotId`: open, full or gone. */
export async function cellState(page: Page, slotId: number): Promise<string | undefined> {
  const classes = await page.locator(`td[data-slot-id="${slotId}"]`).getAttribute('class');
  return classes?.split(' ')[0];
}

import { expect, test, type Locator } from '@playwright/test';

/**
 * The merge panel's own α box and Settings' GPU memory budget, as a keyboard user meets them: each
 * can be emptied and retyped (no snapping back, no "0.50.25"), an invalid draft stays on screen with
 * its reason, and — for α — blocks the merge panel's α-driven buttons, saying why, until it is fixed.
 */

/** Select all and delete, as a user clears a box. */
async function clear(box: Locator): Promise<void> {
  await box.click();
  await box.press('Control+a');
  await box.press('Backspace');
}

/** The message beside a box (the field's aria-describedby target). */
async function fieldMessage(box: Locator): Promise<string> {
  const id = await box.getAttribute('aria-describedby');
  expect(id, 'the invalid box names its message').toBeTruthy();
  return (await box.page().locator(`[id="${id}"]`).innerText()).trim();
}

test("the merge panel's α box and the GPU memory budget can be emptied and retyped; an invalid α disables Save merged model and Export, saying why", async ({ page }) => {
  await page.goto('/');
  await page.getByRole('button', { name: 'Load the demo trio' }).click();
  const merge = page.getByTestId('merge-panel');
  const alpha = merge.getByLabel('alpha', { exact: true });
  const top = page.getByLabel('α', { exact: true });
  const save = merge.getByRole('button', { name: 'Save merged model…' });
  const stats = merge.getByRole('button', { name: 'Vector statistics' });
  await expect(save).toBeEnabled({ timeout: 30_000 });

  await alpha.fill('0.5');
  await expect(top).toHaveValue('0.5');

  // Emptied: the box stays empty (not "0.5" again), says why, and Save is disabled with the reason;
  // the α in use (the box at the top) is still 0.5, and the statistics (run at α = 0) stay enabled.
  await clear(alpha);
  await expect(alpha).toHaveValue('');
  await expect(alpha).toHaveAttribute('aria-invalid', 'true');
  await expect.poll(() => fieldMessage(alpha)).toBe('Empty: enter a finite number.');
  await expect(save).toBeDisabled();
  await expect(merge.getByTestId('merge-alpha-problem')).toHaveText(
    'Saving the merged model and exporting ONNX are disabled: Fix “alpha” first — Empty: enter a finite number.',
  );
  await expect(top).toHaveValue('0.5');
  await expect(stats).toBeEnabled();

  // Retyped: "0.25" (not "0.50.25"), committed to every panel, Save enabled again, no message.
  await alpha.pressSequentially('0.25');
  await expect(alpha).toHaveValue('0.25');
  await expect(alpha).not.toHaveAttribute('aria-invalid');
  await expect(top).toHaveValue('0.25');
  await expect(save).toBeEnabled();
  await expect(merge.getByTestId('merge-alpha-problem')).toHaveCount(0);

  // A lone "-" typed over the selected "0.25" is text the browser cannot read as a number: shown
  // as such, Save disabled, α kept.
  await alpha.click();
  await alpha.press('Control+a');
  await alpha.press('-');
  await expect.poll(() => fieldMessage(alpha)).toBe('Not a number: enter a finite number.');
  await expect(save).toBeDisabled();
  await expect(top).toHaveValue('0.25');
  await alpha.pressSequentially('1');
  await expect(alpha).toHaveValue('-1');
  await expect(top).toHaveValue('-1');
  await expect(save).toBeEnabled();

  // The box at the top emptied: α itself is not a number; this box shows empty and the sentence says so.
  await clear(top);
  await expect(alpha).toHaveValue('');
  await expect(merge.getByTestId('merge-alpha-problem')).toHaveText('Saving the merged model and exporting ONNX are disabled: α must be a finite number.');
  await expect(save).toBeDisabled();
  await top.pressSequentially('1.5');
  await expect(alpha).toHaveValue('1.5');
  await expect(save).toBeEnabled();

  // Settings: the GPU memory budget (4 GiB by default) drives the merge panel's memory plan.
  await page.getByText('Settings', { exact: true }).click();
  const budget = page.getByLabel('GPU memory budget');
  const planBytes = merge.getByTestId('memory-plan-bytes');
  await expect(budget).toHaveValue('4');
  await expect(planBytes).toContainText('of the 4.0 GiB GPU memory budget');
  await clear(budget);
  await expect(budget).toHaveValue('');
  await expect.poll(() => fieldMessage(budget)).toBe('Empty: enter a finite number above 0.');
  await expect(planBytes).toContainText('of the 4.0 GiB GPU memory budget'); // the last valid budget stays in use
  await budget.pressSequentially('2');
  await expect(budget).toHaveValue('2');
  await expect(budget).not.toHaveAttribute('aria-invalid');
  await expect(planBytes).toContainText('of the 2.0 GiB GPU memory budget');
  // 0 is not a budget: shown with its reason, never taken.
  await clear(budget);
  await budget.pressSequentially('0');
  await expect.poll(() => fieldMessage(budget)).toBe('0 is not above 0: enter a finite number above 0.');
  await expect(planBytes).toContainText('of the 2.0 GiB GPU memory budget');
  // Retyping over it: "0.5" reads 0.5 (the "0" is kept as the start of the new number).
  await budget.pressSequentially('.5');
  await expect(budget).toHaveValue('0.5');
  await expect(budget).not.toHaveAttribute('aria-invalid');
  await expect(planBytes).toContainText('of the 512.0 MiB GPU memory budget');
  await expect(save).toBeEnabled();
});

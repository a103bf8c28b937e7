import { StudioError } from '../errors.ts';

/** A task name that is not one of lm-eval's names the studio implements. */
export class UnknownTaskError extends StudioError {
  constructor(
    readonly task: string,
    readonly nearest: string | undefined,
    /** get-task.ts's TASK_CHOICES. */
    choices: string,
  ) {
    super(`unknown task "${task}"${nearest ? `; did you mean "${nearest}"?` : ''} (tasks: ${choices}).`);
  }
}

/**
 * A dataset row or a response that does not have what the task needs. `where` names the file
 * and line (or the row index) so the user can find it; not retryable, the data are wrong.
 */
export class EvalDataError extends StudioError {
  constructor(
    readonly where: string,
    detail: string,
  ) {
    super(`${where}: ${detail}`);
  }
}

import { StudioError } from '../../errors.ts';

/**
 * The Python sandbox could not start (Pyodide failed to load, or took longer than the
 * start-up limit). Not retryable as is: the Pyodide files are missing or unreachable.
 */
export class PythonSandboxError extends StudioError {
  constructor(detail: string) {
    super(
      `The Python sandbox for HumanEval could not start: ${detail}. ` +
        'Pyodide comes from the `pyodide` npm package: run `npm install` in the studio folder (in the page, reload it).',
    );
  }
}

import type { Context } from 'hono';
import { toAppError } from '../contract/errors.js';

/**
 * The app's `onError`: the one place where an error becomes an HTTP answer,
 * `{ error: message, code }` with the status of its code (AppError.httpStatus). A route
 * that refuses a request throws an AppError (BAD_REQUEST, NOT_FOUND, …); anything else
 * is a bug and answers 500 with code INTERNAL.
 */
export function errorAnswer(error: unknown, c: Context): Response {
  const appError = toAppError(error);
  return c.json({ error: appError.message, code: appError.code }, appError.httpStatus);
}

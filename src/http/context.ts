import Router, { RouterContext } from '@koa/router';
import { AuthUser } from './auth';
import { Logger } from '../logger';

export interface AppState {
  requestId: string;
  log: Logger;
  user?: AuthUser;
}

export type AppContext = RouterContext<AppState>;

export function createRouter(): Router<AppState> {
  return new Router<AppState>();
}

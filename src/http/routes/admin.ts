import { Middleware } from 'koa';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { KoaAdapter } from '@bull-board/koa';
import type { IServerAdapter } from '@bull-board/api/typings/app';
import { createRouter, AppState } from '../context';
import { basicCredentialsMatch } from '../auth';
import { Forbidden, Unauthenticated } from '../../errors';
import { allQueueNames, queue } from '../../jobs/queues';

// Bull Board over every queue (SPEC §5.5), for admins: HTTP Basic (ADMIN_USER / ADMIN_PASSWORD),
// which a browser prompts for, or an admin bearer token, which scripts use.

export const BULL_BOARD_PATH = '/admin/queues';

const requireAdmin: Middleware<AppState> = async (ctx, next) => {
  if (ctx.state.user?.role === 'admin' || basicCredentialsMatch(ctx.get('Authorization') || undefined)) {
    await next();
    return;
  }
  if (ctx.state.user) throw new Forbidden('Requires role admin');
  // Without this challenge a browser shows the JSON instead of a login prompt.
  ctx.set('WWW-Authenticate', 'Basic realm="HFG queues", charset="UTF-8"');
  throw new Unauthenticated('Admin credentials required (HTTP Basic or an admin token)');
};

// Built on first use, so that starting the web process (or importing the routes in a test) opens
// no Redis connection until someone actually looks at the board.
let board: Middleware | null = null;

function bullBoard(): Middleware {
  if (!board) {
    const serverAdapter = new KoaAdapter();
    serverAdapter.setBasePath(BULL_BOARD_PATH);
    createBullBoard({
      queues: allQueueNames().map((name) => new BullMQAdapter(queue(name))),
      // @bull-board/koa pins its own copy of @bull-board/api one patch release behind; the
      // adapter interface is the same, only the duplicated private fields differ in type.
      serverAdapter: serverAdapter as unknown as IServerAdapter,
      options: { uiConfig: { boardTitle: 'HFG queues' } },
    });
    // Bull Board is its own small Koa app mounted at the base path; it sees paths below it.
    board = serverAdapter.registerPlugin() as Middleware;
  }
  return board;
}

export const adminRouter = createRouter();

adminRouter.all(`${BULL_BOARD_PATH}{/*rest}`, requireAdmin, (ctx, next) => bullBoard()(ctx, next));

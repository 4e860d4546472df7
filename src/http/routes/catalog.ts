import { createRouter } from '../context';

export const catalogRouter = createRouter();

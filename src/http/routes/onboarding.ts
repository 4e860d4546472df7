import { createRouter } from '../context';

export const onboardingRouter = createRouter();

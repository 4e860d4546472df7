import { healthRouter } from './health';
import { catalogRouter } from './catalog';
import { onboardingRouter } from './onboarding';
import { adminRouter } from './admin';

export const routes = [healthRouter, catalogRouter, onboardingRouter, adminRouter];

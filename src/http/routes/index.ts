import { healthRouter } from './health';
import { catalogRouter } from './catalog';
import { onboardingRouter } from './onboarding';

export const routes = [healthRouter, catalogRouter, onboardingRouter];

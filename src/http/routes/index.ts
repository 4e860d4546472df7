import { healthRouter } from './health';
import { catalogRouter } from './catalog';
import { onboardingRouter } from './onboarding';
import { adminRouter } from './admin';
import { bookingsRouter } from './bookings';
import { jobsRouter } from './jobs';
import { walletsRouter } from './wallets';

export const routes = [healthRouter, catalogRouter, onboardingRouter, adminRouter, bookingsRouter, jobsRouter, walletsRouter];

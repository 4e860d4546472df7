import { healthRouter } from './health';
import { catalogRouter } from './catalog';
import { onboardingRouter } from './onboarding';
import { adminRouter } from './admin';
import { bookingsRouter } from './bookings';
import { jobsRouter } from './jobs';
import { walletsRouter } from './wallets';
import { promosRouter } from './promos';
import { paymentsRouter } from './payments';
import { boardRouter } from './board';
import { metricsRouter } from './metrics';
import { vendorTablesRouter } from './vendor-tables';

// paymentsRouter before bookingsRouter: POST /bookings/confirm must not meet GET /bookings/:booking_id's 405;
// bookingsRouter before onboardingRouter: GET /users/bookings must not meet GET /users/:id.
export const routes = [healthRouter, catalogRouter, paymentsRouter, bookingsRouter, onboardingRouter, adminRouter, jobsRouter, walletsRouter, promosRouter, boardRouter, metricsRouter, vendorTablesRouter];

import { UniqueViolationError } from 'objection';
import { User } from './models';
import { Conflict } from '../errors';

// The local copy of users known to the HFG user service: names and contacts shown on bookings
// and vendor dashboards.

export interface NewUser {
  name: string;
  email: string;
  phone: string;
}

export async function createUser(input: NewUser): Promise<User> {
  try {
    return await User.query().insertAndFetch(input);
  } catch (error) {
    // The unique index on lower(email) decides, so two racing creates cannot both succeed.
    if (error instanceof UniqueViolationError) throw new Conflict('duplicate', 'A user with this email already exists');
    throw error;
  }
}

export async function findUser(userId: number): Promise<User | undefined> {
  return User.query().findById(userId);
}

import { Model } from 'objection';

// Thin objection models: table names and relations. Queries that carry booking rules live in the
// named query modules beside this file.

export class Vendor extends Model {
  static tableName = 'vendors';
  id!: number;
  cafe_name!: string;
  timezone!: string;
  opening_days!: string[];
}

export class GamingType extends Model {
  static tableName = 'gaming_types';
  id!: number;
  name!: string;
  description!: string;
}

export class Game extends Model {
  static tableName = 'games';
  id!: number;
  vendor_id!: number;
  gaming_type_id!: number | null;
  game_name!: string;
  total_slots!: number;
  single_slot_price_paise!: number;
  slots?: Slot[];
  vendor?: Vendor;

  static relationMappings = () => ({
    vendor: { relation: Model.BelongsToOneRelation, modelClass: Vendor, join: { from: 'games.vendor_id', to: 'vendors.id' } },
    slots: { relation: Model.HasManyRelation, modelClass: Slot, join: { from: 'games.id', to: 'slots.game_id' } },
  });
}

export class Slot extends Model {
  static tableName = 'slots';
  id!: number;
  game_id!: number;
  start_time!: string;
  end_time!: string;
}

export class Console extends Model {
  static tableName = 'consoles';
  id!: number;
  vendor_id!: number;
  console_number!: string;
  model_number!: string;
  brand!: string;
  console_type!: string;
  status!: 'available' | 'in_use' | 'maintenance';
}

export class User extends Model {
  static tableName = 'users';
  id!: number;
  name!: string;
  email!: string | null;
  phone!: string;
}

export const BOOKING_STATUSES = ['pending_verified', 'confirmed', 'cancelled', 'verification_failed', 'refunded'] as const;
export type BookingStatus = (typeof BOOKING_STATUSES)[number];

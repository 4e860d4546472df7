import { Invalid } from '../errors';

// SPEC §12: features the HFG app can ask for that this service does not offer. Each is refused
// with a 400 that names it, before any other check, never a silent half-booking; the inert forms
// the app sends on every request (`is_pay_at_cafe: false`, a disabled squad) are accepted.

const squadOff = (value: unknown) => value === undefined || value === null
  || (typeof value === 'object' && !Array.isArray(value) && (value as { enabled?: unknown }).enabled === false);

export function refuseUnofferedFeatures(body: unknown): void {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return;
  const fields = body as Record<string, unknown>;
  if (fields.is_pay_at_cafe === true) throw new Invalid('Paying at the cafe (is_pay_at_cafe: true) is not offered: pay with Razorpay or the wallet');
  for (const name of ['squad_details', 'squadDetails']) {
    if (!squadOff(fields[name])) throw new Invalid(`Squad bookings (${name}) are not offered: book each gamer's slots separately`);
  }
  const extras = fields.extra_services;
  if (extras !== undefined && extras !== null && !(Array.isArray(extras) && extras.length === 0)) {
    throw new Invalid('Extra services (extra_services) are not offered');
  }
  if (fields.payment_mode === 'voucher' || fields.payment_mode === 'none') {
    throw new Invalid(`Vouchers and passes (payment_mode "${fields.payment_mode}") are not offered: pay with "gateway" or "wallet"`);
  }
}

/** The schemas of the inert client fields, for the bodies that may carry them. */
export const clientFieldSchemas = {
  is_pay_at_cafe: { type: 'boolean' },
  squad_details: { anyOf: [{ type: 'null' }, { type: 'object', properties: { enabled: { const: false } }, required: ['enabled'] }] },
  squadDetails: { anyOf: [{ type: 'null' }, { type: 'object', properties: { enabled: { const: false } }, required: ['enabled'] }] },
  extra_services: { anyOf: [{ type: 'null' }, { type: 'array', maxItems: 0 }] },
} as const;

// The API speaks whole rupees (Razorpay endpoints: paise); storage is always integer paise.

export function rupeesToPaise(rupees: number): number {
  return Math.round(rupees * 100);
}

export function paiseToRupees(paise: number): number {
  return paise / 100;
}

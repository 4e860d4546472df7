// The API speaks whole rupees (Razorpay endpoints: paise); storage is always integer paise.

export function rupeesToPaise(rupees: number): number {
  return Math.round(rupees * 100);
}

export function paiseToRupees(paise: number): number {
  return paise / 100;
}

/**
 * Splits a discount over prices in proportion, in whole paise: the shares sum to the discount,
 * none exceeds its price, and the last price takes what rounding left. What each booking of a
 * confirmation paid is its price less its share: what cancelling it gives back.
 */
export function shareDiscount(prices: number[], discount: number): number[] {
  const total = prices.reduce((a, b) => a + b, 0);
  if (total === 0 || discount === 0) return prices.map(() => 0);
  const shares = prices.map((price) => Math.floor((price * discount) / total));
  let left = discount - shares.reduce((a, b) => a + b, 0);
  for (let i = prices.length - 1; i >= 0 && left > 0; i--) {
    const room = Math.min(left, prices[i] - shares[i]);
    shares[i] += room;
    left -= room;
  }
  return shares;
}

/** Fails on bad input, as functions do: its message is what the caller gets. */
export default async (order) => {
  if (!(typeof order?.quantity === 'number' && order.quantity > 0)) {
    throw new Error(
      `order ${order?.id}: quantity must be a positive number, got ${order?.quantity}`,
    )
  }
  return { ok: true, id: order.id }
}

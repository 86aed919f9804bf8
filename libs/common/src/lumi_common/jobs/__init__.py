"""Job rows and their state machine, shared by the consumer runtime, the workers and operators."""

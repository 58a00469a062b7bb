"""Cases: intake, the transition function, deadlines and the tamper-evident history."""

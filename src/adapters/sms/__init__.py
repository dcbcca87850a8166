"""SMS providers: Twilio, Twilio Verify, MessageBird, Textlocal, Vonage, and the development outbox."""

"""The Discord platform: :class:`~bot.discord_app.app.DiscordApp` runs the handlers on Discord.

Modules: ``app`` (the client, its command tree and the one error handler),
``commands`` (typed options into requests), ``buttons`` (the janken board's
persistent buttons), ``reply`` (the Discord Reply), ``outlet`` (where an
interaction's messages go), ``live`` (answers shown while generated),
``messages`` (replies to the bot's answers, which continue their conversations),
``message_reply`` (the Reply for such a message), ``render`` (embeds and button rows) and
``languages`` (each user's language, and the translator that localizes the command list).
"""

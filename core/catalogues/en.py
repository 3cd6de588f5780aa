"""English: the bot's first language, and the one a missing translation falls back to."""

from __future__ import annotations

from collections.abc import Mapping

MESSAGES: Mapping[str, str] = {
    # usage
    "usage_help": (
        "Commands:\n"
        "  /ask <question>  ask the AI; replies in the same conversation keep its context\n"
        "  /draw [--size square|landscape|portrait] [--quality low|medium|high] <prompt>\n"
        "  /janken [rock|paper|scissors|stats|top|quit|<character description>]\n"
        "  /usage  your usage today and this month\n"
        "  /history [page <n>|<n>|clear]  your past commands\n"
        "  Transcribe  on a message with audio: its menu in Slack and Discord, /transcribe <file> in the console"
    ),
    "usage_ask": "Usage: /ask <question>",
    "usage_draw": (
        "Usage: /draw [--size square|landscape|portrait|1024x1024|1536x1024|1024x1536] "
        "[--quality low|medium|high] <prompt>"
    ),
    "usage_janken": (
        "Usage: /janken [rock|paper|scissors] | /janken stats | /janken top | /janken quit | "
        "/janken <character description, two words or more>"
    ),
    "unknown_command": "I don't know {command}. Try /help.",
    "too_long": "That is too long ({length:,} characters); the limit is {limit:,}.",
    "bad_size": "Unknown size {value!r}. Use square, landscape, portrait, 1024x1024, 1536x1024 or 1024x1536.",
    "bad_quality": "Unknown quality {value!r}. Use low, medium or high.",
    "unknown_janken": (
        "{word!r} is not a move or a janken command. Usage: /janken [rock|paper|scissors] | "
        "/janken stats | /janken top | /janken quit | /janken <character description, two words or more>"
    ),
    # AI failures
    "no_openai_key": "AI answers are off: the operator has not set OPENAI_API_KEY.",
    "content_blocked": "OpenAI's safety system refused that request. Try rewording it.",
    "rate_limited": "OpenAI is rate limiting the bot right now. Please try again in a minute.",
    "ai_unavailable": "OpenAI did not answer in time or is having trouble. Please try again shortly.",
    "no_moderation": "The bot's AI server cannot check requests; the operator needs to set MODERATION=off.",
    "ai_auth": "The bot's OpenAI credentials were refused; the operator needs to check OPENAI_API_KEY.",
    "ai_failed": "OpenAI could not handle that request ({detail}).",
    "internal_error": "Sorry, something went wrong on my side. The error has been logged.",
    "slack_failed": "Slack refused the bot's message ({error}).",
    "slack_unreachable": "Slack could not be reached just now. Please try again shortly.",
    "slack_busy": "Slack is too busy to take the bot's messages here right now. Please ask again in a few minutes.",
    "store_unavailable": "The bot's storage is temporarily unavailable. Please try again shortly.",
    # spending limits and where commands run
    "quota_exceeded": (
        "You have used all {limit} of today's {command} requests. "
        "Your quota resets at {resets} UTC (in {hours} h {minutes:02d} min)."
    ),
    "draw_in_flight": "You already have a drawing in progress. Please wait for it to finish.",
    "queued": "The bot is busy: you are number {position} in the queue. Your request starts as soon as it can.",
    "moderation_flagged": (
        "Sorry, I can't help with that request: it goes against the content rules. Please try something else."
    ),
    "not_enabled_here": "The bot's commands are not enabled here.",
    "roles_unavailable": (
        "The bot cannot check who may use it here right now (Slack did not list its user groups). "
        "Please tell the workspace admin."
    ),
    "image_too_large": "The image is too large to upload here ({limit} at most) and could not be made smaller.",
    # audio files (transcription)
    "audio_too_short": "That recording is too short to transcribe.",
    "audio_unreadable": (
        "I couldn't read that audio file: it may be damaged, or encoded in a way OpenAI does not accept."
    ),
    "audio_unsupported": "I can't transcribe that file. Send audio in one of these formats: {formats}.",
    "audio_too_large": "That audio file is too large to transcribe: the limit is {limit}.",
    "file_elsewhere": "I can only transcribe files uploaded to the chat itself, not links to other sites.",
    "download_failed": "I couldn't download that file just now. Please try again shortly.",
    "no_audio": "That message has no audio file to transcribe.",
    "usage_transcribe": "Usage: /transcribe <path to an audio file>",
    "no_such_file": "There is no readable file at {path}.",
    "transcribing": "Transcribing {name}…",
    "transcript": "Transcript of {name}:\n{text}",
    "transcript_empty": "I heard no speech in {name}.",
    "command_transcribe": "Transcribe",
    # progress and captions
    "drawing": "Drawing {prompt}…",
    "drawing_opponent": "Drawing your opponent: {description}…",
    "image_caption": "{prompt}",
    "image_saved": "🖼  {caption}: {path}",
    "progress": "⏳ {message}",
    "answer_truncated": "_(The answer reached its length limit and stops here.)_",
    "image_comment": "{caption} (for {user})",
    "question_from": "{user} asked:",
    "thinking": "Thinking…",
    "answer_interrupted": "(The answer was cut off: {reason})",
    "bot_stopping": "the bot is restarting. Please ask again in a moment.",
    "slack_cut": "Slack stopped accepting updates. Please ask again.",
    "discord_cut": "Discord stopped accepting updates. Please ask again.",
    # janken
    "builtin_opponent": "Janken Bot",
    "game_board": "{player} {player_hp_bar}  vs  {opponent} {opponent_hp_bar}",
    "game_prompt": "Round {round}: choose rock, paper or scissors.",
    "move_rock": "✊ rock",
    "move_paper": "✋ paper",
    "move_scissors": "✌️ scissors",
    "card_move_rock": "Rock",
    "card_move_paper": "Paper",
    "card_move_scissors": "Scissors",
    "card_round_win": "Round {round}: you win!",
    "card_round_lose": "Round {round}: you lose",
    "card_round_draw": "Round {round}: a draw",
    "card_game_won": "You win the game!",
    "card_game_lost": "You lose the game",
    "card_prompt": "Round {round}: your move",
    "card_alt": "{player} vs {opponent}: HP {player_hp} to {opponent_hp} of {max_hp}",
    "card_saved": "🃏 Battle card: {path}",
    "round_win": "You threw {player_move}, {opponent} threw {opponent_move}: you win the round!",
    "round_lose": "You threw {player_move}, {opponent} threw {opponent_move}: {opponent} wins the round.",
    "round_draw": "You both threw {player_move}: a draw, nobody loses HP.",
    "hp_line": "HP: you {player_hp}/{max_hp}, {opponent} {opponent_hp}/{max_hp}.",
    "game_won": "🎉 You beat {opponent}! Play again with /janken.",
    "game_lost": "💀 {opponent} wins the game. Play again with /janken.",
    "game_quit": "Game against {opponent} ended.",
    "play_again": "Play again",
    "not_your_game": "This game belongs to someone else. Start your own with /janken.",
    "old_board": "That board is from an older version of the bot. Start a new game with /janken.",
    "stale_board": "That board is out of date; here is your game now.",
    "no_game": "You have no game running. Start one with /janken.",
    "stats": (
        "Your record: games {games_won} won, {games_lost} lost; rounds {wins} won, {losses} lost, "
        "{draws} drawn; rounds won in a row {streak} (best {best_streak})."
    ),
    # Discord's command list: descriptions (at most 100 characters) and choice names (what the
    # menu shows; the value sent back stays the English word the handlers read)
    "command_ask": "Ask the AI; replies to its answer continue the conversation",
    "option_ask_question": "What you want to know",
    "command_draw": "Generate an image from a description",
    "option_draw_prompt": "What to draw",
    "option_draw_size": "The image's shape",
    "option_draw_quality": "Higher takes longer",
    "command_janken": "Rock-paper-scissors against an AI-drawn opponent",
    "option_janken_move": "Play a round (starts a game if none runs)",
    "option_janken_character": "Describe an opponent to draw and play against",
    "option_janken_action": "Your record, the leaderboard, or end the game",
    "command_usage": "Your usage today and this month, and what it cost",
    "command_history": "Your past commands, newest first",
    "option_history_page": "Which page (1 is the newest)",
    "option_history_entry": "Show this entry in full",
    "option_history_action": "Clear your history (asks first)",
    "choice_square": "square",
    "choice_landscape": "landscape",
    "choice_portrait": "portrait",
    "choice_low": "low",
    "choice_medium": "medium",
    "choice_high": "high",
    "choice_rock": "rock",
    "choice_paper": "paper",
    "choice_scissors": "scissors",
    "choice_stats": "stats",
    "choice_quit": "quit",
    "choice_top": "top",
    "choice_clear": "clear",
    "choice_confirm": "confirm",
    # /history, /usage and the leaderboard (/janken top)
    "history_game_won": "Won ({player_hp} to {opponent_hp})",
    "history_game_lost": "Lost ({player_hp} to {opponent_hp})",
    "usage_history": "Usage: /history | /history page <n> | /history <n> | /history clear",
    "history_empty": "Your history is empty.",
    "history_page": "Your history, newest first (page {page} of {pages}):",
    "history_line": "{number}. {when} /{command}: {prompt} → {answer}",
    "history_older": "Older ▶",
    "history_newer": "◀ Newer",
    "history_clear_button": "Delete my history",
    "button_typed": "[{label}] {typed}",
    "not_your_history": "That button belongs to someone else's history. See yours with /history.",
    "old_history_buttons": (
        "Those history buttons are from an older version of the bot. See your history with /history."
    ),
    "history_no_entry": "There is no entry {number} in your history.",
    "history_entry": (
        "#{number} · {when} · /{command} · {model}\nPrompt: {prompt}\nAnswer: {answer}\n"
        "Tokens: {tokens_in} in, {tokens_out} out; images: {images}"
    ),
    "history_clear_ask": "Delete your whole history ({count} entries)? This cannot be undone.",
    "history_cleared": "Deleted your history ({count} entries).",
    "usage_report": (
        "Today: /ask {asks} of {ask_quota}, images {images_today} of {image_quota}.\n"
        "This month ({month}): {tokens_in} tokens in, {tokens_out} tokens out, {images} images.\n{cost}"
    ),
    "quota_unlimited": "unlimited",
    "usage_cost": "Estimated cost this month: ${cost:.2f}",
    "usage_cost_unpriced": "No cost estimate: OPENAI_PRICES has no price for {models}.",
    "top_won": "🏆 Most games won",
    "top_streak": "🔥 Most rounds won in a row",
    "top_row": "{rank}. {name}: {value}",
    "top_empty": "Nobody has won a game here yet.",
    "top_dm": (
        "The leaderboard is kept per server or workspace, so there is none in a DM: "
        "use /janken top in a server. Your own record: /janken stats"
    ),
}

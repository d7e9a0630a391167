"""Foundation routes: login, logout, home, password, locale, health."""

from . import EVERYONE, Rule

RULES = [
    Rule("health.healthz", "/healthz", EVERYONE, public=True),
    Rule("accounts.login", "/login", EVERYONE, public=True, note="logged-in users are sent home"),
    Rule("accounts.set_locale", "/locale", EVERYONE, method="POST", data={"lang": "zh_CN"}, public=True),
    Rule("accounts.login", "/login", EVERYONE, method="POST", public=True,
         data={"username": "nobody", "password": "x"}, note="post"),
    Rule("accounts.reset_with_code", "/login/reset", EVERYONE, public=True, note="logged-in users go to 修改密码"),
    Rule("accounts.reset_with_code", "/login/reset", EVERYONE, method="POST", public=True,
         data={"username": "nobody", "code": "AAAA-BBBB-CCCC-DDDD", "new": "x", "confirm": "x"}, note="post"),
    Rule("totp.login_step", "/login/totp", EVERYONE, public=True,
         note="without a right password first: back to the login page"),
    Rule("totp.login_step", "/login/totp", EVERYONE, method="POST", public=True, data={"code": "123456"},
         note="post"),
    Rule("totp.enrol", "/account/totp", EVERYONE, note="enrolled admins see their status"),
    Rule("totp.enrol", "/account/totp", EVERYONE, method="POST", data={"code": "123456"}, note="post"),
    Rule("accounts.home", "/", EVERYONE),
    Rule("accounts.change_password", "/account/password", EVERYONE, method="POST",
         data={"current": "wrong", "new": "x", "confirm": "x"}, note="post"),
    Rule("accounts.change_password", "/account/password", EVERYONE),
    Rule("accounts.logout", "/logout", EVERYONE, method="POST", redirects_to_login=True),
]

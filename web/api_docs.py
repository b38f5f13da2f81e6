"""`GET /graphql` in a browser: the API documentation for partner regions' developers, with worked
examples and a query explorer (GraphiQL from npm, served from /static/vendor/graphiql, started by
/static/js/api-docs.js: no CDN, no inline script or style, under the site's CSP). Each example is
also a plain form (GET /graphql?query=…) that answers JSON without JavaScript.

`GET /graphql/schema.graphql` serves the SDL (the committed `schema.graphql`).
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from web.templating import render


@dataclass(frozen=True)
class Example:
    slug: str
    question: str
    explain: str
    query: str
    needs_token: bool = False


EXAMPLES = (
    Example(
        "coverage",
        "我们地区的群众能否在台州办理某个事项? 为什么?",
        "coverage 按“一地签约、全市共享”回答: covered 为是否可办, explanation 是可直接展示给群众的中文说明, "
        "agreements 是据以办理的协议, localRegions 是可以办理的县(市、区)。",
        """query Coverage {
  coverage(homeRegionCode: "511302", matterCode: "M-008") {
    covered
    explanation
    matter { code name }
    agreements { title status localSignatory { fullName } }
    localRegions { code name }
  }
}""",
    ),
    Example(
        "halls",
        "我们的群众在某地附近, 可以去哪里办?",
        "whereToHandle 给出能办理该事项的服务大厅, 有经纬度时按距离由近到远; first 只取最近的几个。",
        """query NearestHalls {
  whereToHandle(homeRegionCode: "511302", matterCode: "M-008",
                latitude: 28.37, longitude: 121.38, first: 3) {
    distanceKm
    hall { name address phone openingHours region { fullName } }
    modes
    explanation
  }
}""",
    ),
    Example(
        "agreements",
        "我们签了哪些协议? 现在是否有效?",
        "region.agreements 是该地区自己签订的协议; status 按今天的日期计算 (ACTIVE 为有效), "
        "citywideShared 表示按“全市共享”及于全部县(市、区)。",
        """query OurAgreements {
  region(code: "511300") {
    fullName
    agreements {
      id title signedOn effectiveFrom expiresOn status citywideShared
      localSignatory { fullName }
      localRegions { name }
    }
  }
}""",
    ),
    Example(
        "changes",
        "上次同步以来有哪些变化?",
        "changes 按变更顺序列出变化 (seq 只增不减)。保存 pageInfo.endCursor, 下次用 after 传回即可续传; "
        "hasNextPage 为 true 时继续取下一页。也可以订阅 Atom 源 /feeds/changes.atom?region=511300, "
        "或用 createWebhook 登记接收地址 (签名推送)。",
        """query ChangesSince($after: String) {
  changes(after: $after, first: 50) {
    edges { cursor node { seq entity key action at } }
    pageInfo { hasNextPage endCursor }
  }
}""",
    ),
    Example(
        "liaison",
        "对接的联络人是谁?",
        "通讯录需要 API 令牌 (请求头 Authorization: Bearer <令牌>, 由台州市管理员发放)。合作地区账号可以看到本地区及台州各县(市、区)的联络人。",
        """query Liaisons {
  contacts(regionCode: "511300", first: 20) {
    edges { node { name organisation role phone liaisonGroup updatedAt } }
  }
}""",
        needs_token=True,
    ),
)


async def api_docs(request: Request) -> Response:
    return render(
        request,
        "api_docs.html",
        {"title": "数据接口 (GraphQL) 说明", "examples": EXAMPLES, "nav_current": "api"},
    )


async def schema_sdl(request: Request) -> Response:
    """The SDL of the schema this server runs (equal to the committed schema.graphql)."""
    sdl = request.app.state.tongban_sdl if hasattr(request.app.state, "tongban_sdl") else None
    if sdl is None:
        from api.schema import build_schema

        sdl = str(build_schema(request.app.state.tongban.settings)) + "\n"
        request.app.state.tongban_sdl = sdl
    return PlainTextResponse(
        sdl, media_type="text/plain; charset=utf-8", headers={"Cache-Control": "public, max-age=300"}
    )
